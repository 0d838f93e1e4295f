import Logging
import NIOCore
import RelayCore
import RelayRTP

/// Publishing: ANNOUNCE (the SDP), SETUP with `mode=record` (TCP interleaved or UDP), RECORD
/// (publish admission: hooks, duplicate policy, limits), then RTP into the stream's Source.
extension RTSPServerHandler {
    // MARK: ANNOUNCE

    func announce(_ request: RTSPRequest, context: ChannelHandlerContext) {
        guard let target = RTSPTarget(uri: request.uri) else {
            logger.info("RTSP ANNOUNCE of a bad URL from \(remote): \(request.uri.prefix(200))")
            respond(context, request, RTSPResponse(400, body: "bad stream URL\n"))
            return
        }
        guard session == nil, publisher.map({ $0.state == .announced }) ?? true else {
            respond(context, request, RTSPResponse(455, body: "ANNOUNCE in a session that plays or records\n"))
            return
        }
        if let type = request.headers["Content-Type"], !type.lowercased().hasPrefix("application/sdp") {
            respond(context, request, RTSPResponse(415, body: "ANNOUNCE takes application/sdp\n"))
            return
        }
        let text = String(decoding: request.body.readableBytesView, as: UTF8.self)
        let sdp: SessionDescription
        do {
            sdp = try SessionDescription(parsing: text)
        } catch {
            logger.warning("RTSP ANNOUNCE of \(target.streamID) from \(remote): bad SDP: \(error)")
            respond(context, request, RTSPResponse(400, body: "bad SDP: \(error)\n"))
            return
        }
        let (tracks, unsupported) = RTPIngestTracks.from(sdp)
        for line in unsupported { logger.info("RTSP ANNOUNCE of \(target.streamID) from \(remote) skips \(line)") }
        guard !tracks.isEmpty else {
            logger.warning("RTSP ANNOUNCE of \(target.streamID) from \(remote): no track we can ingest")
            let reasons = unsupported.isEmpty ? "no media" : unsupported.joined(separator: "; ")
            respond(context, request, RTSPResponse(415, body: "no H.264, H.265, AAC or G.711 track: \(reasons)\n"))
            return
        }
        publisher = RTSPPublisher(id: pendingSessionID, streamID: target.streamID, params: target.params,
                                  announceURL: request.uri, sdp: sdp, tracks: tracks, logger: logger)
        respond(context, request, RTSPResponse(200), session: pendingSessionID)
    }

    // MARK: SETUP (record)

    /// A SETUP after ANNOUNCE (or with `mode=record`): the m= section its URL names, over TCP
    /// interleaved or UDP. True when the answer is still to come (UDP sockets being bound).
    func setupRecord(_ request: RTSPRequest, context: ChannelHandlerContext) -> Bool {
        guard let publisher, publisher.state == .announced else {
            respond(context, request, RTSPResponse(455, body: "SETUP mode=record before ANNOUNCE\n"))
            return false
        }
        if let named = request.headers["Session"], named.split(separator: ";").first.map({ $0.trimmingSpaces }) != publisher.id {
            respond(context, request, RTSPResponse(454))
            return false
        }
        guard let media = publisher.mediaIndex(forSetupURL: request.uri) else {
            logger.info("RTSP SETUP from \(remote) of \(request.uri.prefix(200)): no such announced track")
            respond(context, request, RTSPResponse(404, body: "no such announced track\n"), session: sessionHeader(publisher.id))
            return false
        }
        let header = request.headers["Transport"] ?? ""
        let ownChannels = (UInt8(truncatingIfNeeded: 2 * media), UInt8(truncatingIfNeeded: 2 * media + 1))
        guard let transport = RTSPTransport.parse(header, defaultChannels: ownChannels, record: true) else {
            logger.warning("unsupported RTSP record Transport from \(remote): '\(header.prefix(200))'")
            respond(context, request, RTSPResponse(461))
            return false
        }
        let others = publisher.setups.filter { $0.media != media }
        if let tcp = others.first?.transport.isTCP, tcp != transport.isTCP {
            respond(context, request, RTSPResponse(461, body: "one transport per session\n"))
            return false
        }
        switch transport {
        case .tcp(let rtp, let rtcp):
            let used = others.flatMap { s -> [UInt8] in if case .tcp(let a, let b) = s.transport { return [a, b] } else { return [] } }
            guard rtp != rtcp, !used.contains(rtp), !used.contains(rtcp) else {
                respond(context, request, RTSPResponse(461, body: "interleaved channels already in use\n"))
                return false
            }
            _ = publisher.add(RTSPPublisher.Setup(media: media, transport: transport, udp: nil, peerRTCP: nil))
            respond(context, request, RTSPResponse(200, headers: [("Transport", transport.responseHeader(record: true))]),
                    session: sessionHeader(publisher.id))
            return false
        case .udp(_, let rtcpPort):
            guard let clientIP = remoteIP, let peerRTCP = try? SocketAddress(ipAddress: clientIP, port: rtcpPort) else {
                respond(context, request, RTSPResponse(461))
                return false
            }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            // Only the publisher's address may feed the stream.
            bindUDPPair(context, request, onDatagram: { rtcp, datagram in
                guard datagram.remoteAddress.ipAddress == clientIP else { return }
                let handler = bound.value
                handler.touch()
                handler.publisher?.datagram(datagram.data, rtcp: rtcp, media: media)
            }, then: { handler, context, pair in
                guard let publisher = handler.publisher, publisher.state == .announced else { return false }
                let setup = RTSPPublisher.Setup(media: media, transport: transport, udp: pair, peerRTCP: peerRTCP)
                if let replaced = publisher.add(setup) {
                    replaced.close()
                    handler.ports.release(replaced.port)
                }
                let header = transport.responseHeader(serverPorts: (pair.port, pair.port + 1), record: true)
                handler.respond(context, request, RTSPResponse(200, headers: [("Transport", header)]),
                                session: handler.sessionHeader(publisher.id))
                return true
            })
            return true
        }
    }

    // MARK: RECORD

    func record(_ request: RTSPRequest, context: ChannelHandlerContext) {
        guard let publisher, !publisher.setups.isEmpty else {
            respond(context, request, RTSPResponse(455, body: "RECORD before SETUP\n"))
            return
        }
        if let named = request.headers["Session"], named.split(separator: ";").first.map({ $0.trimmingSpaces }) != publisher.id {
            respond(context, request, RTSPResponse(454))
            return
        }
        guard publisher.state == .announced else {
            respond(context, request, RTSPResponse(200), session: sessionHeader(publisher.id))  // a repeated RECORD
            return
        }
        publisher.state = .admitting
        holdQueue()
        let info = SessionInfo(sessionID: publisher.id, protocolName: "rtsp", remoteAddress: remote, params: publisher.params)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        relay.admitPublisher(PublishRequest(streamID: publisher.streamID, session: info), on: context.eventLoop) { result in
            let (handler, context) = bound.value
            guard handler.publisher === publisher, publisher.state == .admitting, context.channel.isActive else {
                if case .success(let source) = result { source.assumeIsolated { $0.close(reason: "publisher left during admission") } }
                return
            }
            switch result {
            case .success(let source):
                handler.startRecording(publisher, source: source, request: request, context: context)
            case .failure(let refusal):
                handler.refuseRecord(refusal, request: request, context: context)
            }
            handler.finish(context)
        }
    }

    private func startRecording(_ publisher: RTSPPublisher, source: Source, request: RTSPRequest, context: ChannelHandlerContext) {
        publisher.startRecording(source, on: context.eventLoop)
        // An operator closing the source hangs up on its publisher.
        let channel = context.channel
        source.assumeIsolated { $0.whenClosed { channel.close(promise: nil) } }
        logger.info("RTSP publish started", metadata: [
            "stream": "\(source.id)", "session": "\(publisher.id)", "transport": "\(publisher.isTCP == true ? "tcp" : "udp")",
            "tracks": "\(publisher.tracks.map { "\($0.codec)" }.joined(separator: ","))",
        ])
        respond(context, request, RTSPResponse(200), session: sessionHeader(publisher.id))
    }

    /// 400 bad id, 403 denied by on_publish, 409 the id is live, 503 over a limit; then close.
    private func refuseRecord(_ refusal: PublishRefusal, request: RTSPRequest, context: ChannelHandlerContext) {
        logger.warning("RTSP publish refused from \(remote): \(refusal)")
        let status: Int
        switch refusal {
        case .invalidStreamID: status = 400
        case .denied: status = 403
        case .busy: status = 409
        case .tooManyStreams, .memoryExhausted: status = 503
        }
        publisher?.end(ports: ports, reason: "refused", dropped: false)
        publisher = nil
        closing = true
        let bytes = RTSPResponse(status, body: "\(refusal)\n").encoded(cseq: request.cseq)
        context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }

    // MARK: media

    /// An interleaved frame of a publishing connection.
    func publisherInterleaved(_ publisher: RTSPPublisher, channel: UInt8, payload: ByteBuffer, context: ChannelHandlerContext) {
        touch()
        if !publisher.interleaved(channel: channel, payload: payload) {
            publisher.unknownChannel(channel, remote: remote)
        }
    }
}
