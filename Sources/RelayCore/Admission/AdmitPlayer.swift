import NIOCore

extension RelayContext {
    /// Admits a player: validates the id, asks on_play, then waits up to `source.play_wait_ms`
    /// for the stream to be playable (telling on_stream_not_found when it is not published: the
    /// operator may start it then). Every output calls this (or the `then:` form); the memory
    /// budget is checked again when the player attaches (`Source.attach`).
    ///
    /// `loop`: where the wait's timer runs (the player's loop).
    public func admitPlayer(_ request: PlayRequest, on loop: any EventLoop) async -> Result<Source, PlayRefusal> {
        let id = request.streamID
        guard isValidStreamID(id) else { return .failure(.invalidStreamID(id)) }
        let asked = hasHook(.play) ? NIODeadline.now() : nil
        let decision = await authorize(.play, stream: id, session: request.session)
        if let asked {
            let waited = Double((NIODeadline.now() - asked).nanoseconds) / 1e6
            logger.debug("on_play decision for \(id) after \(waited) ms: \(decision.allowed ? "allowed" : "denied")")
        }
        guard decision.allowed else { return .failure(.denied(decision)) }
        if registry.source(id) == nil {
            notify(.streamNotFound, stream: id, session: request.session)
            for provider in streams.providers where await provider.provide(id, for: request.session) { break }
        }
        let wait = TimeAmount.milliseconds(Int64(config.source.playWaitMs))
        guard let source = await registry.waitForPlayableSource(id, timeout: wait, on: loop) else {
            return .failure(.notFound(id))
        }
        return .success(source)
    }

    /// `admitPlayer` for a channel handler: `then` runs on `loop` (never inline: asking the hook
    /// and waiting for the publisher are asynchronous).
    public func admitPlayer(_ request: PlayRequest, on loop: any EventLoop,
                            then: @escaping (Result<Source, PlayRefusal>) -> Void) {
        let bound = NIOLoopBound(then, eventLoop: loop)
        Task {
            let result = await self.admitPlayer(request, on: loop)
            loop.execute { bound.value(result) }
        }
    }
}
