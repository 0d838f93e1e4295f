import Logging
import NIOCore
import RelayCore
import RelayFLV

/// NetConnection / NetStream commands: connect, createStream, publish, play and their endings.
extension RTMPServerHandler {
    func handleCommand(_ command: RTMPCommand, context: ChannelHandlerContext) throws {
        switch command.name {
        case "connect":
            didConnect()
            connect(command, context: context)
        case "createStream":
            send(RTMPStatus.result(transactionID: command.transactionID, .number(Double(RTMPMuxer.playStreamID))), context: context)
            context.flush()
        case "releaseStream", "FCPublish", "getStreamLength", "_checkbw":
            if command.transactionID != 0 {
                send(RTMPStatus.result(transactionID: command.transactionID), context: context)
                context.flush()
            }
        case "publish":
            publish(command, context: context)
        case "play":
            play(command, context: context)
        case "deleteStream", "closeStream", "FCUnpublish":
            let wasActive: Bool
            switch role {
            case .publishing, .playing: wasActive = true
            case .none, .waitingToPlay: wasActive = false
            }
            endRole(reason: command.name)
            // Back to idle: the connection must publish or play again soon, or go.
            if wasActive {
                ConnectionGuard.mark(.waiting, context)
                armStartTimeout(context: context, reason: "after \(command.name)")
            }
        case "pause", "receiveAudio", "receiveVideo", "_result", "_error", "onBWDone":
            break
        default:
            logger.debug("ignoring RTMP command \(command.name)")
        }
    }

    func handleData(_ values: [AMF0Value], context: ChannelHandlerContext) throws {
        guard case .publishing(let source, _) = role else { return }
        var values = values[...]
        if values.first?.stringValue == "@setDataFrame" { values = values.dropFirst() }
        guard values.first?.stringValue == "onMetaData", let meta = values.dropFirst().first else { return }
        let video = meta["videocodecid"] != nil || meta["width"] != nil
        let audio = meta["audiocodecid"] != nil || meta["audiosamplerate"] != nil
        guard video || audio else { return }
        source.assumeIsolated { $0.expectTracks(video: video, audio: audio) }
    }

    private func connect(_ command: RTMPCommand, context: ChannelHandlerContext) {
        let rawApp = command.commandObject["app"]?.stringValue ?? ""
        let (path, params) = splitQuery(rawApp[...])
        app = path.split(separator: "/").joined(separator: "/")
        appParams = params
        if let tcUrl = command.commandObject["tcUrl"]?.stringValue {
            for (k, v) in splitQuery(tcUrl[...]).params where appParams[k] == nil { appParams[k] = v }
        }
        send(.windowAckSize(UInt32(relay.config.rtmp.windowAckSize)), context: context)
        send(.setPeerBandwidth(UInt32(relay.config.rtmp.windowAckSize), limitType: .dynamic), context: context)
        send(.setChunkSize(outChunkSize), context: context)
        send(RTMPStatus.connectResult(transactionID: command.transactionID), context: context)
        send(.command(name: "onBWDone", transactionID: 0, commandObject: .null, arguments: []), context: context)
        context.flush()
    }

    /// `app` + stream name (without its query) is the stream id; both queries become params.
    private func streamID(_ command: RTMPCommand) -> (id: String, params: [String: String])? {
        guard let name = command.arguments.first?.stringValue else { return nil }
        let (path, nameParams) = splitQuery(name[...])
        let trimmed = path.split(separator: "/").joined(separator: "/")
        let id = app.isEmpty ? trimmed : "\(app)/\(trimmed)"
        guard isValidStreamID(id) else { return nil }
        return (id, appParams.merging(nameParams) { _, new in new })
    }

    private func publish(_ command: RTMPCommand, context: ChannelHandlerContext) {
        guard case .none = role else {
            sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Publish.BadConnection",
                                              description: "already publishing or playing")], context: context)
            return
        }
        guard let (id, params) = streamID(command) else {
            logger.warning("RTMP publish with a bad stream name from \(remote)")
            sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Publish.BadName",
                                              description: "bad stream name")], context: context)
            return
        }
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: "rtmp", remoteAddress: remote, params: params)
        guard relay.hasHook(.publish) else {
            register(id: id, info: info, decision: .notConfigured, context: context)
            return
        }
        // Ask on_publish off the event loop; nothing else may start meanwhile.
        cancelTimeout()
        role = .waitingToPlay
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let relay = self.relay
        let asked = NIODeadline.now()
        Task {
            let decision = await relay.authorize(.publish, stream: id, session: info)
            loop.execute {
                let (handler, context) = bound.value
                let waited = Double((NIODeadline.now() - asked).nanoseconds) / 1e6
                handler.logger.debug("on_publish decision for \(id) after \(waited) ms")
                guard case .waitingToPlay = handler.role, context.channel.isActive else { return }
                handler.role = .none
                guard decision.allowed else {
                    handler.logger.warning("RTMP publish of \(id) denied: \(decision.reason)")
                    handler.sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Publish.Unauthorized",
                                                              description: "publish denied: \(decision.reason)")],
                                         context: context)
                    return
                }
                handler.register(id: id, info: info, decision: decision, context: context)
            }
        }
    }

    /// Claims the stream id (publish allowed) and starts publishing.
    private func register(id: String, info: SessionInfo, decision: HookDecision, context: ChannelHandlerContext) {
        let source = Source(id: id, eventLoop: context.eventLoop, publisher: info, context: relay)
        if let record = decision.record { source.assumeIsolated { $0.setRecording(record) } }
        do {
            try relay.registry.register(source)
        } catch .tooManyStreams {
            logger.warning("RTMP publish of \(id) refused from \(remote): \(StreamRegistry.PublishError.tooManyStreams(relay.registry.maxStreams))")
            sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Publish.Rejected",
                                              description: "too many streams on this server")], context: context)
            return
        } catch {
            if let current = relay.registry.takeoverCandidate(id, protocolName: "rtmp", policy: relay.config.source) {
                takeOver(current, with: source, context: context)
                return
            }
            logger.warning("RTMP publish refused from \(remote): \(error)")
            sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Publish.BadName",
                                              description: "stream \(id) is already publishing")], context: context)
            return
        }
        startPublishing(source, context: context)
    }

    /// `reject_duplicate_publish: false`: the newcomer replaces the live publisher (an encoder
    /// that reconnects before the server noticed its old connection died).
    private func takeOver(_ current: Source, with source: Source, context: ChannelHandlerContext) {
        cancelTimeout()
        role = .waitingToPlay  // nothing else may start meanwhile
        logger.info("RTMP publish of \(source.id) replaces the current publisher \(current.publisher.remoteAddress)")
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let relay = self.relay
        Task {
            await current.close(reason: "replaced by a new publisher")
            let registered = (try? relay.registry.register(source)) != nil
            loop.execute {
                let (handler, context) = bound.value
                handler.role = .none
                guard registered, context.channel.isActive else {
                    handler.sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Publish.BadName",
                                                              description: "stream \(source.id) is already publishing")],
                                         context: context)
                    return
                }
                handler.startPublishing(source, context: context)
            }
        }
    }

    private func startPublishing(_ source: Source, context: ChannelHandlerContext) {
        let id = source.id
        cancelTimeout()
        role = .publishing(source, FLVDemuxer())
        // The listener's ConnectionGuard now ends this connection if the publisher falls silent
        // (limits.idle_timeout_ms).
        ConnectionGuard.mark(.publishing, context)
        logger.info("RTMP publish started", metadata: ["stream": "\(id)"])
        // An operator closing the source hangs up on its publisher.
        let channel = context.channel
        source.assumeIsolated { $0.whenClosed { channel.close(promise: nil) } }
        send(.userControl(.streamBegin(streamID: RTMPMuxer.playStreamID)), context: context)
        send(RTMPStatus.onStatus(code: "NetStream.Publish.Start", description: "\(id) is now published"), context: context)
        context.flush()
    }

    private func play(_ command: RTMPCommand, context: ChannelHandlerContext) {
        guard case .none = role else { return }
        guard let (id, params) = streamID(command) else {
            logger.warning("RTMP play with a bad stream name from \(remote)")
            sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Play.StreamNotFound",
                                              description: "bad stream name")], context: context)
            return
        }
        cancelTimeout()
        role = .waitingToPlay
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: "rtmp", remoteAddress: remote, params: params)
        let loop = context.eventLoop
        let relay = self.relay
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let wait = TimeAmount.milliseconds(Int64(relay.config.source.playWaitMs))
        Task {
            let decision = await relay.authorize(.play, stream: id, session: info)
            guard decision.allowed else {
                loop.execute {
                    let (handler, context) = bound.value
                    guard case .waitingToPlay = handler.role, context.channel.isActive else { return }
                    handler.role = .none
                    handler.logger.warning("RTMP play of \(id) denied: \(decision.reason)")
                    handler.sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Play.Unauthorized",
                                                              description: "play denied: \(decision.reason)")],
                                         context: context)
                }
                return
            }
            let source = await relay.registry.waitForPlayableSource(id, timeout: wait, on: loop)
            loop.execute {
                let (handler, context) = bound.value
                handler.startPlay(source: source, id: id, info: info, context: context)
            }
        }
    }

    private func startPlay(source: Source?, id: String, info: SessionInfo, context: ChannelHandlerContext) {
        guard case .waitingToPlay = role, context.channel.isActive else { return }
        guard let source else {
            logger.info("RTMP play of unknown stream \(id)")
            role = .none
            sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Play.StreamNotFound",
                                              description: "stream \(id) not found")], context: context)
            return
        }
        send(.userControl(.streamBegin(streamID: RTMPMuxer.playStreamID)), context: context)
        send(RTMPStatus.onStatus(code: "NetStream.Play.Reset", description: "playing and resetting \(id)"), context: context)
        send(RTMPStatus.onStatus(code: "NetStream.Play.Start", description: "started playing \(id)"), context: context)
        send(.data([.string("|RtmpSampleAccess"), .boolean(true), .boolean(true)], messageStreamID: RTMPMuxer.playStreamID),
             context: context)
        context.flush()

        let chunkSize = outChunkSize
        let sink = ChannelSink(id: relay.nextID(), channel: context.channel, info: info,
                               policy: SlowPlayerPolicy(relay.config.player), logger: logger,
                               trailer: { RTMPStatus.playTrailer(chunkSize: chunkSize) })
        role = .playing(source, sink)
        ConnectionGuard.mark(.playing, context)  // a player may be quiet: no idle check
        logger.info("RTMP player joined", metadata: ["stream": "\(id)"])
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        Task {
            if await !source.attach(sink, kind: "rtmp") {
                loop.execute {
                    let (handler, context) = bound.value
                    handler.role = .none
                    handler.sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Play.StreamNotFound",
                                                              description: "stream \(id) ended")], context: context)
                }
            }
        }
    }
}
