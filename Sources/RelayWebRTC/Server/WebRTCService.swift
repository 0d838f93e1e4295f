import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayRTP

/// WHEP and WHIP on the players' HTTP port, and the UDP port their media crosses.
final class WebRTCService: Sendable {
    let context: RelayContext
    let config: WebRTCConfig
    private let group: any EventLoopGroup
    private let logger: Logger
    private let running = NIOLockedValueBox<Running?>(nil)
    /// Sessions by role, for gauges and stats (read from any thread).
    private let sessionCounts = NIOLockedValueBox<[WebRTCSession.Role: Int]>([:])

    /// What exists while the port is bound.
    struct Running: Sendable {
        /// One socket per local address (the first one's is the port's listed address).
        let channels: [any Channel]
        let port: NIOLoopBound<WebRTCPort>
        let certificate: DTLSCertificate
        let candidates: [SocketAddress]
        var loop: any EventLoop { port.eventLoop }
        var channel: any Channel { channels[0] }
    }

    init(context: RelayContext, config: WebRTCConfig, group: any EventLoopGroup) {
        self.context = context
        self.config = config
        self.group = group
        var logger = context.logger
        logger[metadataKey: "module"] = "webrtc"
        self.logger = logger
    }

    func count(_ role: WebRTCSession.Role) -> Int { sessionCounts.withLockedValue { $0[role] ?? 0 } }

    var boundPort: Int? { running.withLockedValue { $0?.channel.localAddress?.port } }

    // MARK: start and stop

    /// Binds the port on every local address the listener's host covers (one socket each, all
    /// on one loop, the same port number), then lists the candidates.
    func start() async throws {
        guard config.enabled else { return }
        let certificate = try DTLSCertificate.generate()
        let loop = group.next()
        let counts = sessionCounts
        let (config, logger) = (self.config, self.logger)
        let port = try await loop.submit {
            NIOLoopBound(WebRTCPort(eventLoop: loop, config: config, logger: logger) { role, delta in
                counts.withLockedValue { $0[role, default: 0] += delta }
            }, eventLoop: loop)
        }.get()
        var channels: [any Channel] = []
        do {
            var number = config.listener.port
            for host in WebRTCCandidates.bindAddresses(host: config.listener.host) {
                let channel = try await Self.bind(host: host, port: number, loop: loop, port: port)
                number = channel.localAddress?.port ?? number
                channels.append(channel)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        guard let first = channels.first else { throw ChannelError.inappropriateOperationForState }
        try await loop.submit { port.value.startSweeping() }.get()
        let number = first.localAddress?.port ?? config.listener.port
        let bound = channels.compactMap { $0.localAddress?.ipAddress }
        let candidates = WebRTCCandidates.addresses(configured: config.candidates, bound: bound, port: number, logger: logger)
        running.withLockedValue { $0 = Running(channels: channels, port: port, certificate: certificate, candidates: candidates) }
        logger.info("WebRTC (WHEP/WHIP) media on udp port \(number) of \(bound.joined(separator: ", ")); candidates \(candidates.map(\.displayString).joined(separator: ", "))")
    }

    private static func bind(host: String, port number: Int, loop: any EventLoop, port: NIOLoopBound<WebRTCPort>) async throws -> any Channel {
        try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            // recvmmsg: the buffer is split between the messages of one read (2 KiB each).
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: 32)
            // Past this much queued, `isWritable` turns false and viewers skip to a key frame.
            .channelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 2 << 20, high: 8 << 20))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebRTCPortHandler(port: port))
                }
            }
            .bind(host: host, port: number).get()
    }

    func stop() async {
        guard let current = running.withLockedValue({ r -> Running? in defer { r = nil }; return r }) else { return }
        let port = current.port
        try? await current.loop.submit { port.value.endAll("server stopping") }.get()
        for channel in current.channels { try? await channel.close() }
    }

    // MARK: HTTP

    var route: HTTPRoute {
        HTTPRoute(onAdminPort: false, matching: { WebRTCPath.matches($0) }, handle: { [self] in await handle($0) })
    }

    func handle(_ call: HTTPCall) async -> HTTPAnswer {
        guard let path = WebRTCPath(call.path[...]) else { return WebRTCAnswers.text(404, "not found\n") }
        switch (call.method, path.session) {
        case ("OPTIONS", _):
            return WebRTCAnswers.preflight
        case ("POST", nil):
            return await offer(call, path)
        case ("DELETE", let token?):
            return await delete(token, path)
        case ("PATCH", _):
            // No trickle ICE: the relay is ICE-lite and its answer lists every candidate.
            return WebRTCAnswers.text(405, "trickle ICE is not supported\n", headers: [("Allow", "POST, DELETE, OPTIONS")])
        default:
            return WebRTCAnswers.text(405, "method not allowed\n", headers: [("Allow", "POST, DELETE, OPTIONS")])
        }
    }

    private func offer(_ call: HTTPCall, _ path: WebRTCPath) async -> HTTPAnswer {
        guard let running = running.withLockedValue({ $0 }) else { return WebRTCAnswers.text(503, "WebRTC is not running\n") }
        if let type = call.contentType, !type.lowercased().hasPrefix("application/sdp") {
            return WebRTCAnswers.text(415, "the offer must be application/sdp\n")
        }
        let offer: WebRTCOffer
        do {
            offer = try WebRTCOffer(parsing: String(decoding: call.body, as: UTF8.self))
        } catch {
            logger.warning("WebRTC \(path.role.rawValue) offer from \(call.remoteIP) refused: \(error)")
            return WebRTCAnswers.text(400, "bad offer: \(error)\n")
        }
        if offer.setup == "passive" {
            return WebRTCAnswers.text(400, "bad offer: the relay is the DTLS server (a=setup:actpass or active)\n")
        }
        guard count(.player) + count(.publisher) < config.maxSessions else {
            logger.warning("WebRTC \(path.role.rawValue) offer from \(call.remoteIP) refused: \(config.maxSessions) sessions open")
            return WebRTCAnswers.text(503, "too many WebRTC sessions\n")
        }
        let token = WebRTCPath.newToken()
        let query = call.query.isEmpty ? [:] : splitQuery(("?" + call.query)[...]).params
        let info = SessionInfo(sessionID: token, protocolName: "webrtc", remoteAddress: call.remoteIP, params: query)
        switch path.role {
        case .player: return await play(path, offer: offer, info: info, running: running)
        case .publisher: return await publish(path, offer: offer, info: info, running: running)
        }
    }

    private func delete(_ token: String, _ path: WebRTCPath) async -> HTTPAnswer {
        guard let running = running.withLockedValue({ $0 }) else { return WebRTCAnswers.text(404, "no such session\n") }
        let port = running.port
        let ended = await Self.onLoop(running.loop) { () -> Bool in
            guard let session = port.value.table.session(id: token), session.role == path.role,
                  session.streamID == path.stream else { return false }
            session.end("the client ended it (DELETE)")
            return true
        }
        return ended ? WebRTCAnswers.text(200, "session ended\n") : WebRTCAnswers.text(404, "no such session\n")
    }

    // MARK: WHEP

    private func play(_ path: WebRTCPath, offer: WebRTCOffer, info: SessionInfo, running: Running) async -> HTTPAnswer {
        let source: Source
        switch await context.admitPlayer(PlayRequest(streamID: path.stream, session: info), on: running.loop) {
        case .success(let admitted): source = admitted
        case .failure(let refusal): return WebRTCAnswers.refused(refusal, info: info, logger: logger)
        }
        let negotiated = WebRTCNegotiation.play(offer, streams: await source.streams)
        guard !negotiated.tracks.isEmpty else {
            logger.warning("WHEP offer from \(info.remoteAddress) for \(path.stream) refused: \(negotiated.why)")
            return WebRTCAnswers.text(406, "no codec in common: \(negotiated.why)\n")
        }
        let (config, context) = (self.config, self.context)
        return await session(.player, offer: offer, info: info, source: source, answers: negotiated.answers,
                             summary: negotiated.summary, running: running) { session in
            WebRTCPlayer(id: context.nextID(), eventLoop: running.loop, info: info, source: source, layout: negotiated.layout,
                         tracks: negotiated.tracks, historyPackets: config.nackHistoryPackets, logger: session.logger)
        }
    }

    // MARK: WHIP

    private func publish(_ path: WebRTCPath, offer: WebRTCOffer, info: SessionInfo, running: Running) async -> HTTPAnswer {
        let negotiated = WebRTCNegotiation.publish(offer)
        guard negotiated.video != nil || negotiated.audio != nil else {
            logger.warning("WHIP offer from \(info.remoteAddress) for \(path.stream) refused: \(negotiated.why)")
            return WebRTCAnswers.text(406, "no codec in common: \(negotiated.why)\n")
        }
        let context = self.context
        let loop = running.loop
        let admitted: Result<Source, PublishRefusal> = await withCheckedContinuation { continuation in
            loop.execute {
                context.admitPublisher(PublishRequest(streamID: path.stream, session: info), on: loop) {
                    continuation.resume(returning: $0)
                }
            }
        }
        let source: Source
        switch admitted {
        case .success(let s): source = s
        case .failure(let refusal): return WebRTCAnswers.refused(refusal, info: info, logger: logger)
        }
        let config = self.config
        return await session(.publisher, offer: offer, info: info, source: source, answers: negotiated.answers,
                             summary: negotiated.summary, running: running) { session in
            let ingest = WHIPIngest(source: source, videoPayloadType: negotiated.video?.payloadType,
                                    audio: negotiated.audio, config: config, logger: session.logger)
            ingest.begin(on: running.loop)
            return ingest
        }
    }

    /// Makes the session on the port's loop (its DTLS endpoint, what it carries) and answers the
    /// offer: 201 with the SDP and the session's URL. The URL names the source's id, which
    /// `on_publish` may have changed. A publisher's Source is closed when that fails.
    private func session(_ role: WebRTCSession.Role, offer: WebRTCOffer, info: SessionInfo, source: Source,
                         answers: [WebRTCAnswer.Media], summary: String, running: Running,
                         media: @escaping @Sendable (WebRTCSession) -> any WebRTCMedia) async -> HTTPAnswer {
        let logger = self.logger
        let port = running.port
        let setup = await Self.onLoop(running.loop) { () -> SessionSetup in
            let dtls: DTLSEndpoint
            do {
                dtls = try DTLSEndpoint(role: .server, certificate: running.certificate, remoteFingerprint: offer.fingerprint)
            } catch {
                if role == .publisher { source.assumeIsolated { $0.close(reason: "WHIP: DTLS setup failed") } }
                return .failed("\(error)")
            }
            let local = ICECredentials.random()
            let session = WebRTCSession(id: info.sessionID, streamID: source.id, role: role, info: info, local: local,
                                        remoteUfrag: offer.ice.ufrag, dtls: dtls, channel: running.channel, logger: logger)
            session.media = media(session)
            port.value.add(session)
            return .answer(WebRTCAnswer.render(offer: offer, media: answers, ice: local,
                                               fingerprint: running.certificate.fingerprint, candidates: running.candidates,
                                               sessionID: UInt64.random(in: 1...UInt64(Int64.max)), cname: "liverelay",
                                               streamLabel: source.id))
        }
        switch setup {
        case .answer(let sdp):
            logger.info("\(role == .player ? "WHEP viewer" : "WHIP publisher") \(info.remoteAddress) of \(source.id): \(summary)")
            return WebRTCAnswers.created(sdp, location: "/\(source.id)/\(role.rawValue)/\(info.sessionID)")
        case .failed(let error):
            logger.error("WebRTC \(role.rawValue): DTLS setup failed: \(error)")
            return WebRTCAnswers.text(500, "DTLS setup failed\n")
        }
    }

    /// A session made on the port's loop: its SDP answer, or why it could not be.
    private enum SessionSetup: Sendable {
        case answer(String)
        case failed(String)
    }

    private static func onLoop<T: Sendable>(_ loop: any EventLoop, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            loop.execute { continuation.resume(returning: body()) }
        }
    }
}
