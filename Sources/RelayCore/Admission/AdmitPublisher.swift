import NIOCore

extension RelayContext {
    /// Admits a publisher: validates the id, asks on_publish (applying its `record`,
    /// `stream_replace` and `enable_audio` answers: the Source may get another id than asked),
    /// applies the duplicate policy (`reject_duplicate_publish`, `cross_protocol_takeover`; a
    /// lingering source within `publisher_grace_ms` is taken over by `StreamRegistry.register`),
    /// `limits.max_streams` and the memory budget. Every ingest calls this once; none repeats it.
    ///
    /// `then` runs on `loop` (the publisher's; the Source is made there): **inline** when nothing
    /// waits (no on_publish hook, no takeover), so media right after the publish command (RTMP
    /// sequence headers) is not lost; otherwise later. Call it on `loop`. A session that has gone
    /// when `then` runs closes the Source it gets.
    public func admitPublisher(_ request: PublishRequest, on loop: any EventLoop,
                               then: @escaping (Result<Source, PublishRefusal>) -> Void) {
        loop.assertInEventLoop()
        guard isValidStreamID(request.streamID) else {
            then(.failure(.invalidStreamID(request.streamID)))
            return
        }
        guard hasHook(.publish) || streams.hasGates else {
            claim(request, answer: .notConfigured, on: loop, then: then)
            return
        }
        let bound = NIOLoopBound(then, eventLoop: loop)
        let asked = NIODeadline.now()
        Task {
            let decision = await self.authorize(.publish, stream: request.streamID, session: request.session)
            var request = request
            var refusal: PublishRefusal?
            if !decision.allowed {
                refusal = .denied(reason: decision.reason)
            } else if let renamed = decision.streamReplace, renamed != request.streamID {
                if isValidStreamID(renamed) {
                    self.logger.info("on_publish renames \(request.streamID) to \(renamed)")
                    request.streamID = renamed
                } else {
                    refusal = .invalidStreamID(renamed)
                }
            }
            if refusal == nil {
                for gate in self.streams.gates {
                    refusal = await gate.check(request)
                    if refusal != nil { break }
                }
            }
            loop.execute { [request, refusal] in
                let waited = Double((NIODeadline.now() - asked).nanoseconds) / 1e6
                self.logger.debug("publish admission of \(request.streamID) after \(waited) ms")
                if let refusal {
                    bound.value(.failure(refusal))
                } else {
                    self.claim(request, answer: decision, on: loop, then: bound.value)
                }
            }
        }
    }

    /// Whether a publisher over `protocolName` would be refused `id` now because its live
    /// publisher stays (`reject_duplicate_publish` / `cross_protocol_takeover`); names the holder.
    /// For ingests that reserve an id before media arrives (a GB28181 receiver).
    public func publishConflict(_ id: String, protocolName: String) -> PublishRefusal? {
        guard let current = registry.source(id), registry.hasLivePublisher(id) else { return nil }
        guard registry.takeoverCandidate(id, protocolName: protocolName, policy: config.source) == nil else { return nil }
        return .busy(id, holder: current.holder)
    }

    /// Claims the id for a new Source, or takes it over from the live publisher the policy lets go.
    private func claim(_ request: PublishRequest, answer: HookDecision, on loop: any EventLoop,
                       then: @escaping (Result<Source, PublishRefusal>) -> Void) {
        let source = Source(id: request.streamID, eventLoop: loop, publisher: request.session, context: self)
        if let record = answer.record { source.assumeIsolated { $0.setRecording(record) } }
        if answer.enableAudio == false { source.assumeIsolated { $0.disableAudio() } }
        do throws(PublishRefusal) {
            try registry.register(source)
        } catch .busy(let id, let holder) {
            guard let current = registry.takeoverCandidate(id, protocolName: request.session.protocolName,
                                                           policy: config.source) else {
                then(.failure(.busy(id, holder: holder)))
                return
            }
            takeOver(current, with: source, on: loop, then: then)
            return
        } catch {
            then(.failure(error))
            return
        }
        then(.success(source))
    }

    /// `reject_duplicate_publish: false`: the newcomer replaces the live publisher (an encoder
    /// that reconnects before the server noticed its old connection died).
    private func takeOver(_ current: Source, with source: Source, on loop: any EventLoop,
                          then: @escaping (Result<Source, PublishRefusal>) -> Void) {
        logger.info("\(source.publisher.protocolName) publish of \(source.id) from \(source.publisher.remoteAddress) replaces the current publisher \(current.holder)")
        let bound = NIOLoopBound(then, eventLoop: loop)
        Task {
            await current.close(reason: "replaced by a new publisher")
            let result: Result<Source, PublishRefusal>
            do throws(PublishRefusal) {
                try self.registry.register(source)
                result = .success(source)
            } catch {
                result = .failure(error)
            }
            loop.execute { bound.value(result) }
        }
    }
}

extension Source {
    /// The publisher as conflicts name it: "rtmp 10.0.0.9:5000".
    public nonisolated var holder: String { "\(publisher.protocolName) \(publisher.remoteAddress)" }
}
