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
            case .none, .admitting: wasActive = false
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

    /// `app` + stream name (without its query) is the stream id (validated by admission); both
    /// queries become params.
    private func streamID(_ command: RTMPCommand) -> (id: String, params: [String: String])? {
        guard let name = command.arguments.first?.stringValue else { return nil }
        let (path, nameParams) = splitQuery(name[...])
        let trimmed = path.split(separator: "/").joined(separator: "/")
        let id = app.isEmpty ? trimmed : "\(app)/\(trimmed)"
        return (id, appParams.merging(nameParams) { _, new in new })
    }

    private func publish(_ command: RTMPCommand, context: ChannelHandlerContext) {
        guard case .none = role else {
            sendAndClose([RTMPStatus.onStatus(level: "error", code: "NetStream.Publish.BadConnection",
                                              description: "already publishing or playing")], context: context)
            return
        }
        guard let (id, params) = streamID(command) else {
            refusePublish(.invalidStreamID(""), context: context)
            return
        }
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: "rtmp", remoteAddress: remote, params: params)
        // Nothing else may start meanwhile; with no hook and no takeover the answer is inline.
        cancelTimeout()
        role = .admitting
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        relay.admitPublisher(PublishRequest(streamID: id, session: info), on: context.eventLoop) { result in
            let (handler, context) = bound.value
            guard case .admitting = handler.role, context.channel.isActive else {
                if case .success(let source) = result { source.assumeIsolated { $0.close(reason: "publisher left during admission") } }
                return
            }
            handler.role = .none
            switch result {
            case .success(let source): handler.startPublishing(source, context: context)
            case .failure(let refusal): handler.refusePublish(refusal, context: context)
            }
        }
    }

    /// The refusal as RTMP clients know it: an error `onStatus`, then the connection closes.
    private func refusePublish(_ refusal: PublishRefusal, context: ChannelHandlerContext) {
        logger.warning("RTMP publish refused from \(remote): \(refusal)")
        let code: String, description: String
        switch refusal {
        case .invalidStreamID: (code, description) = ("NetStream.Publish.BadName", "bad stream name")
        case .denied: (code, description) = ("NetStream.Publish.Unauthorized", refusal.description)
        case .busy(let id, _): (code, description) = ("NetStream.Publish.BadName", "stream \(id) is already publishing")
        case .tooManyStreams: (code, description) = ("NetStream.Publish.Rejected", "too many streams on this server")
        case .memoryExhausted: (code, description) = ("NetStream.Publish.Rejected", "the server is out of memory for streams")
        }
        sendAndClose([RTMPStatus.onStatus(level: "error", code: code, description: description)], context: context)
    }

    private func startPublishing(_ source: Source, context: ChannelHandlerContext) {
        let id = source.id
        cancelTimeout()
        role = .publishing(source)
        reader = RTMPMediaReader()
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
            refusePlay(.invalidStreamID(""), context: context)
            return
        }
        cancelTimeout()
        role = .admitting
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: "rtmp", remoteAddress: remote, params: params)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        relay.admitPlayer(PlayRequest(streamID: id, session: info), on: context.eventLoop) { result in
            let (handler, context) = bound.value
            guard case .admitting = handler.role, context.channel.isActive else { return }
            switch result {
            case .success(let source): handler.startPlay(source: source, info: info, context: context)
            case .failure(let refusal):
                handler.role = .none
                handler.refusePlay(refusal, context: context)
            }
        }
    }

    private func refusePlay(_ refusal: PlayRefusal, context: ChannelHandlerContext) {
        let code: String, description: String
        switch refusal {
        case .invalidStreamID:
            logger.warning("RTMP play with a bad stream name from \(remote)")
            (code, description) = ("NetStream.Play.StreamNotFound", "bad stream name")
        case .denied:
            logger.warning("RTMP play refused from \(remote): \(refusal)")
            (code, description) = ("NetStream.Play.Unauthorized", refusal.description)
        case .notFound(let id):
            logger.info("RTMP play of unknown stream \(id)")
            (code, description) = ("NetStream.Play.StreamNotFound", refusal.description)
        }
        sendAndClose([RTMPStatus.onStatus(level: "error", code: code, description: description)], context: context)
    }

    private func startPlay(source: Source, info: SessionInfo, context: ChannelHandlerContext) {
        let id = source.id
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
            if await !source.attach(sink, kind: .rtmp) {
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
