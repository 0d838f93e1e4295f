import Logging
import NIOCore
import RelayCore
import RelayRTP

extension RTSPServerHandler {
    func handle(_ request: RTSPRequest, context: ChannelHandlerContext) {
        guard request.cseq != nil else {
            logger.warning("RTSP \(request.method) without CSeq from \(remote)")
            respond(context, request, RTSPResponse(400, body: "missing CSeq\n"))
            return
        }
        if let required = request.headers["Require"] {
            respond(context, request, RTSPResponse(551, headers: [("Unsupported", required)]))
            return
        }
        if publisher != nil || request.method == "ANNOUNCE" || request.method == "RECORD"
            || (request.method == "SETUP" && RTSPTransport.asksRecord(request.headers["Transport"] ?? "")) {
            handlePublishing(request, context: context)
            return
        }
        switch request.method {
        case "OPTIONS":
            respond(context, request, RTSPResponse(200, headers: [("Public", Self.publicMethods)]))
        case "DESCRIBE":
            describe(request, context: context)
        case "SETUP":
            setup(request, context: context)
        case "PLAY":
            play(request, context: context)
        case "PAUSE":
            guard let session = checkSession(request, context: context) else { return }
            if session.player != nil {
                session.stopPlaying()
                logger.info("RTSP player paused", metadata: ["stream": "\(session.source.id)", "session": "\(session.id)"])
            }
            respond(context, request, RTSPResponse(200), session: sessionHeader(session))
        case "TEARDOWN":
            guard let session = checkSession(request, context: context) else { return }
            if session.player != nil {
                logger.info("RTSP player left", metadata: ["stream": "\(session.source.id)", "session": "\(session.id)"])
            }
            session.end(ports: ports)
            self.session = nil
            respond(context, request, RTSPResponse(200), session: session.id)
        case "GET_PARAMETER", "SET_PARAMETER":
            // Keep-alives. A Session header, if sent, must name this connection's session.
            if request.headers["Session"] != nil {
                guard let session = checkSession(request, context: context) else { return }
                respond(context, request, RTSPResponse(200), session: sessionHeader(session))
            } else {
                respond(context, request, RTSPResponse(200))
            }
        default:
            respond(context, request, RTSPResponse(501, headers: [("Public", Self.publicMethods)]))
        }
    }

    /// The requests of a publishing connection (or one that starts publishing).
    private func handlePublishing(_ request: RTSPRequest, context: ChannelHandlerContext) {
        switch request.method {
        case "OPTIONS":
            respond(context, request, RTSPResponse(200, headers: [("Public", Self.publicMethods)]))
        case "ANNOUNCE":
            announce(request, context: context)
        case "SETUP":
            _ = setupRecord(request, context: context)  // UDP: answered once its ports are bound
        case "RECORD":
            record(request, context: context)
        case "TEARDOWN":
            guard let publisher else {
                respond(context, request, RTSPResponse(454))
                return
            }
            respond(context, request, RTSPResponse(200), session: publisher.id)
            publisher.end(ports: ports, reason: "TEARDOWN", dropped: false)
            self.publisher = nil
        case "GET_PARAMETER", "SET_PARAMETER":
            respond(context, request, RTSPResponse(200), session: publisher.map { sessionHeader($0.id) })
        case "DESCRIBE", "PLAY", "PAUSE":
            respond(context, request, RTSPResponse(455, body: "\(request.method) on a publishing connection\n"))
        default:
            respond(context, request, RTSPResponse(501, headers: [("Public", Self.publicMethods)]))
        }
    }

    /// The session the request names; answers 454 when there is none or it is another one.
    private func checkSession(_ request: RTSPRequest, context: ChannelHandlerContext) -> RTSPSession? {
        let named = request.headers["Session"].map { $0.split(separator: ";").first.map { $0.trimmingSpaces } ?? "" }
        guard let session, let named, named == session.id else {
            logger.info("RTSP \(request.method) from \(remote) for unknown session \(request.headers["Session"] ?? "(none)")")
            respond(context, request, RTSPResponse(454))
            return nil
        }
        return session
    }

    // MARK: DESCRIBE

    private func describe(_ request: RTSPRequest, context: ChannelHandlerContext) {
        guard let target = RTSPTarget(uri: request.uri) else {
            logger.info("RTSP DESCRIBE of a bad URL from \(remote): \(request.uri.prefix(200))")
            respond(context, request, RTSPResponse(400, body: "bad stream URL\n"))
            return
        }
        findSource(target, request, context: context) { handler, context, source, streams in
            let supported = streams.filter { RTPFormat($0) != nil }
            guard !supported.isEmpty else {
                handler.logger.info("RTSP DESCRIBE of \(target.streamID): no track RTSP can carry (\(streams.map(\.codec)))")
                handler.respond(context, request, RTSPResponse(415, body: "no track RTSP can carry\n"))
                handler.finish(context)
                return
            }
            handler.described = Described(streamID: target.streamID, source: source, streams: supported, params: target.params)
            let sdp = SDP.describe(streams: supported, sessionID: UInt64.random(in: 1...UInt64(Int64.max)),
                                   address: handler.localIP, name: target.streamID)
            handler.respond(context, request, RTSPResponse(200, headers: [("Content-Base", target.base)],
                                                           body: sdp, contentType: "application/sdp"))
            handler.finish(context)
        }
    }

    /// The playable source `target` names, once admitted (`RelayContext.admitPlayer`: the
    /// on_play hook, then up to `play_wait_ms` for the stream): 401/403 when denied, 404 when
    /// not published.
    private func findSource(_ target: RTSPTarget, _ request: RTSPRequest, context: ChannelHandlerContext,
                            then: @escaping (RTSPServerHandler, ChannelHandlerContext, Source, [AVStream]) -> Void) {
        let relay = self.relay
        let loop = context.eventLoop
        let admission = PlayRequest(streamID: target.streamID, session: playerInfo(params: target.params))
        runAsync(context, { () async -> Result<(Source, [AVStream]), PlayRefusal> in
            switch await relay.admitPlayer(admission, on: loop) {
            case .success(let source): return .success((source, await source.streams))
            case .failure(let refusal): return .failure(refusal)
            }
        }, then: { handler, context, admitted in
            guard !handler.closing, context.channel.isActive else { return }
            switch admitted {
            case .success(let (source, streams)):
                then(handler, context, source, streams)
            case .failure(let refusal):
                if case .notFound(let id) = refusal {
                    handler.logger.info("RTSP \(request.method) of unknown stream \(id) from \(handler.remote)")
                } else {
                    handler.logger.warning("RTSP play from \(handler.remote) refused: \(refusal)")
                }
                let body = refusal.httpStatus == 404 ? "stream not found\n" : "\(refusal)\n"
                handler.respond(context, request, RTSPResponse(refusal.httpStatus, body: body))
                handler.finish(context)
            }
        })
    }

    // MARK: SETUP

    private func setup(_ request: RTSPRequest, context: ChannelHandlerContext) {
        guard let target = RTSPTarget(uri: request.uri) else {
            respond(context, request, RTSPResponse(400, body: "bad track URL\n"))
            return
        }
        if request.headers["Session"] != nil {
            guard checkSession(request, context: context) != nil else { return }
        }
        if let session, session.source.id != target.streamID {
            respond(context, request, RTSPResponse(459, body: "a session plays one stream\n"), session: sessionHeader(session))
            return
        }
        if let session {
            _ = setup(request, target: target, source: session.source, streams: session.streams, context: context)
        } else if let described, described.streamID == target.streamID {
            _ = setup(request, target: target, source: described.source, streams: described.streams, context: context)
        } else {
            findSource(target, request, context: context) { handler, context, source, streams in
                let pending = handler.setup(request, target: target, source: source,
                                            streams: streams.filter { RTPFormat($0) != nil }, context: context)
                if !pending { handler.finish(context) }
            }
        }
    }

    /// True when the answer is still to come (UDP sockets being bound).
    private func setup(_ request: RTSPRequest, target: RTSPTarget, source: Source, streams: [AVStream],
                       context: ChannelHandlerContext) -> Bool {
        let position: Int?
        if let trackID = target.trackID {
            position = streams.firstIndex { $0.index == trackID }
        } else {
            position = streams.count == 1 ? 0 : nil
        }
        guard let position else {
            respond(context, request, RTSPResponse(404, body: "no such track\n"))
            return false
        }
        let stream = streams[position]
        if let session, session.player != nil {
            respond(context, request, RTSPResponse(455, body: "SETUP while playing\n"), session: sessionHeader(session))
            return false
        }
        let header = request.headers["Transport"] ?? ""
        let ownChannels = (UInt8(truncatingIfNeeded: 2 * position), UInt8(truncatingIfNeeded: 2 * position + 1))
        guard let transport = RTSPTransport.parse(header, defaultChannels: ownChannels) else {
            logger.warning("unsupported RTSP Transport from \(remote): '\(header.prefix(200))'")
            respond(context, request, RTSPResponse(461))
            return false
        }
        let others = (session?.tracks ?? []).filter { $0.streamIndex != stream.index }
        if let tcp = others.first?.transport.isTCP, tcp != transport.isTCP {
            logger.warning("RTSP SETUP from \(remote) mixes TCP and UDP transports in one session")
            respond(context, request, RTSPResponse(461, body: "one transport per session\n"))
            return false
        }
        let info = playerInfo(params: described?.params ?? target.params)
        switch transport {
        case .tcp(let rtp, let rtcp):
            let used = others.flatMap { [$0.rtp, $0.rtcp] }
            guard rtp != rtcp, !used.contains(rtp), !used.contains(rtcp) else {
                logger.warning("RTSP SETUP from \(remote) reuses interleaved channels \(rtp)-\(rtcp)")
                respond(context, request, RTSPResponse(461, body: "interleaved channels already in use\n"))
                return false
            }
            let track = RTSPSession.Track(streamIndex: stream.index, controlURL: request.uri, transport: transport,
                                          rtp: rtp, rtcp: rtcp, udp: nil)
            addTrack(track, request, source: source, streams: streams, info: info, context: context)
            return false
        case .udp:
            guard let clientIP = remoteIP else {
                respond(context, request, RTSPResponse(461))
                return false
            }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            bindUDPPair(context, request, onDatagram: { _, datagram in
                guard datagram.remoteAddress.ipAddress == clientIP else { return }
                bound.value.touch()
            }, then: { handler, context, pair in
                let track = RTSPSession.Track(streamIndex: stream.index, controlURL: request.uri, transport: transport,
                                              rtp: ownChannels.0, rtcp: ownChannels.1, udp: pair)
                handler.addTrack(track, request, source: source, streams: streams, info: info, context: context)
                return true
            })
            return true
        }
    }

    private func addTrack(_ track: RTSPSession.Track, _ request: RTSPRequest, source: Source, streams: [AVStream],
                          info: SessionInfo, context: ChannelHandlerContext) {
        let session: RTSPSession
        if let existing = self.session {
            session = existing
        } else {
            session = RTSPSession(id: info.sessionID, source: source, streams: streams, info: info)
            self.session = session
        }
        if let i = session.tracks.firstIndex(where: { $0.streamIndex == track.streamIndex }) {
            if let udp = session.tracks[i].udp {
                udp.close()
                ports.release(udp.port)
            }
            session.tracks.remove(at: i)
        }
        session.tracks.append(track)
        var transport = track.transport.responseHeader(serverPorts: track.udp.map { ($0.port, $0.port + 1) })
        if track.udp != nil { transport += ";source=\(localIP)" }
        respond(context, request, RTSPResponse(200, headers: [("Transport", transport)]), session: sessionHeader(session))
    }

    // MARK: PLAY

    private func play(_ request: RTSPRequest, context: ChannelHandlerContext) {
        guard let session = checkSession(request, context: context) else { return }
        guard !session.tracks.isEmpty else {
            respond(context, request, RTSPResponse(455, body: "PLAY before SETUP\n"), session: sessionHeader(session))
            return
        }
        if session.player != nil {
            respond(context, request, RTSPResponse(200, headers: [("Range", "npt=0.000-")]), session: sessionHeader(session))
            return
        }
        let layout = session.layout
        let output: RTPOutput
        let byes = ByeSource()
        let sinkID = relay.nextID()  // the player and its TCP output are one player to the admin API
        if session.isTCP == true {
            output = .tcp(ChannelSink(id: sinkID, channel: context.channel, info: session.info,
                                      policy: SlowPlayerPolicy(relay.config.player), logger: logger,
                                      trailer: { byes.sink?.byes() }))
        } else {
            var targets: [UInt8: UDPPlayerOutput.Target] = [:]
            for track in session.tracks {
                guard let udp = track.udp, case .udp(let rtpPort, let rtcpPort) = track.transport, let ip = remoteIP,
                      let rtpAddress = try? SocketAddress(ipAddress: ip, port: rtpPort),
                      let rtcpAddress = try? SocketAddress(ipAddress: ip, port: rtcpPort) else { continue }
                targets[track.rtp] = .init(socket: udp.rtp, address: rtpAddress)
                targets[track.rtcp] = .init(socket: udp.rtcp, address: rtcpAddress)
            }
            let channel = context.channel
            output = .udp(UDPPlayerOutput(targets: targets, eventLoop: context.eventLoop, logger: logger) {
                channel.close(promise: nil)
            })
        }
        let cseq = request.cseq
        let sessionValue = sessionHeader(session)
        let urls = Dictionary(uniqueKeysWithValues: session.tracks.map { ($0.rtp, $0.controlURL) })
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let sink = RTSPPlayerSink(id: sinkID, eventLoop: context.eventLoop, info: session.info, layout: layout,
                                  output: output, logger: logger) { starts in
            let (handler, context) = bound.value
            handler.answerPlay(context, cseq: cseq, session: sessionValue, urls: urls, starts: starts)
        }
        byes.sink = sink
        session.player = sink
        holdQueue()
        let source = session.source
        let loop = context.eventLoop
        logger.info("RTSP player joined", metadata: [
            "stream": "\(source.id)", "session": "\(session.id)", "transport": "\(session.isTCP == true ? "tcp" : "udp")",
            "kind": "\(layout.kind)",
        ])
        Task {
            let attached = await source.attach(sink, kind: layout.kind, muxer: RTPMuxer.factory(layout: layout))
            guard !attached else { return }
            loop.execute {
                let (handler, context) = bound.value
                handler.logger.info("RTSP PLAY of \(source.id) from \(handler.remote): the stream has ended")
                if handler.session?.player === sink { handler.session?.player = nil }
                sink.stop()
                let response = RTSPResponse(404, body: "stream ended\n")
                if context.channel.isActive {
                    context.writeAndFlush(handler.wrapOutboundOut(response.encoded(cseq: cseq, session: sessionValue)), promise: nil)
                }
                handler.finish(context)
            }
        }
    }

    /// Called by the player once it knows its first packets, before it writes any of them.
    func answerPlay(_ context: ChannelHandlerContext, cseq: String?, session: String, urls: [UInt8: String],
                    starts: [UInt8: RTPStart]) {
        var headers = [("Range", "npt=0.000-")]
        let info = starts.keys.sorted().compactMap { channel -> String? in
            guard let url = urls[channel], let start = starts[channel] else { return nil }
            return "url=\(url);seq=\(start.sequence);rtptime=\(start.rtpTime)"
        }
        if !info.isEmpty { headers.append(("RTP-Info", info.joined(separator: ","))) }
        if context.channel.isActive {
            context.write(wrapOutboundOut(RTSPResponse(200, headers: headers).encoded(cseq: cseq, session: session)), promise: nil)
            context.flush()
        }
        finish(context)
    }
}

/// Lets a TCP player's trailer (RTCP BYE) reach the player sink created after it.
/// Set and read only on the RTSP connection's event loop (PLAY sets it, the trailer reads it).
final class ByeSource: @unchecked Sendable {
    weak var sink: RTSPPlayerSink?
}
