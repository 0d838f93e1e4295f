import Logging
import NIOCore
import RelayCore

/// One RTSP connection: frames in, requests answered in order (pipelined requests wait for the
/// one before, some of which wait for a stream), the session's timers. Methods are in
/// RTSPServerHandler+Methods.swift.
///
/// Bad input gets an error status and, when framing is lost, a close, with a log line naming
/// the peer; it never affects other connections.
final class RTSPServerHandler: ChannelInboundHandler {
    typealias InboundIn = RTSPFrame
    typealias OutboundOut = ByteBuffer

    enum Work {
        case request(RTSPRequest)
        case badInput(RTSPParseError)
    }

    /// What the last DESCRIBE found: SETUP attaches to it without waiting again.
    struct Described {
        let streamID: String
        let source: Source
        let streams: [AVStream]
        let params: [String: String]
    }

    let relay: RelayContext
    let ports: UDPPortAllocator
    var logger: Logger
    var remote = "?"
    var remoteIP: String?
    var localIP = "0.0.0.0"
    let sessionTimeout: TimeAmount

    var session: RTSPSession?
    var described: Described?
    /// A publisher's session (ANNOUNCE … RECORD); a connection plays or publishes, not both.
    var publisher: RTSPPublisher?
    /// The id the session gets at its first SETUP; hooks see it from DESCRIBE on.
    let pendingSessionID = RTSPSession.makeID()
    private var queue: [Work] = []
    private var busy = false
    var closing = false
    private var lastActivity = NIODeadline.now()
    private var idleCheck: RepeatedTask?
    private var sawBadInput = false

    /// Pipelined requests held while one is in progress; more means a misbehaving client.
    static let maxQueued = 32
    static let publicMethods = "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

    init(relay: RelayContext, ports: UDPPortAllocator) {
        self.relay = relay
        self.ports = ports
        self.logger = relay.logger
        self.sessionTimeout = .milliseconds(Int64(relay.config.rtsp.sessionTimeoutMs))
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.remoteAddress?.displayString ?? "?"
        remoteIP = context.remoteAddress?.ipAddress
        localIP = context.localAddress?.ipAddress ?? "0.0.0.0"
        logger[metadataKey: "remote"] = "\(remote)"
        let check = TimeAmount.nanoseconds(max(sessionTimeout.nanoseconds / 4, 50_000_000))
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: check, delay: check) { _ in
            let (handler, context) = bound.value
            handler.checkIdle(context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .request(let request):
            enqueue(.request(request), context: context)
        case .response(let response):
            logger.debug("ignoring RTSP response \(response.status) from \(remote)")
        case .interleaved(let channel, let payload):
            if let publisher, publisher.isTCP == true {
                publisherInterleaved(publisher, channel: channel, payload: payload, context: context)
                return
            }
            guard let session, session.isTCP == true else {
                fail(context, "interleaved data on channel \(channel) before SETUP with a TCP transport")
                return
            }
            touch()  // receiver reports on the RTCP channel keep the session alive
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parse = error as? RTSPParseError {
            RelayMetrics.parseError(protocol: "rtsp")
            sawBadInput = true
            enqueue(.badInput(parse), context: context)
        } else if sawBadInput, error is ByteToMessageDecoderError {
            return  // more bytes after the bad ones; the error answer and close are on their way
        } else {
            logger.debug("RTSP connection error from \(remote): \(error)")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleCheck?.cancel()
        idleCheck = nil
        queue.removeAll()
        if let session {
            if session.player != nil {
                logger.info("RTSP player left", metadata: ["stream": "\(session.source.id)", "session": "\(session.id)"])
            }
            session.end(ports: ports)
        }
        session = nil
        described = nil
        publisher?.end(ports: ports, reason: "connection closed", dropped: true)
        publisher = nil
        context.fireChannelInactive()
    }

    // MARK: request queue

    private func enqueue(_ work: Work, context: ChannelHandlerContext) {
        guard queue.count < Self.maxQueued else {
            fail(context, "more than \(Self.maxQueued) pipelined requests")
            return
        }
        queue.append(work)
        drain(context)
    }

    private func drain(_ context: ChannelHandlerContext) {
        while !busy, !closing, !queue.isEmpty {
            switch queue.removeFirst() {
            case .request(let request):
                touch()
                handle(request, context: context)
            case .badInput(let error):
                logger.warning("bad RTSP request from \(remote): \(error)")
                closing = true
                queue.removeAll()
                let bytes = RTSPResponse(error.status, body: "\(error)\n").encoded(cseq: nil)
                context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { [channel = context.channel] _ in
                    channel.close(promise: nil)
                }
            }
        }
        guard !closing else { return }
        // The connection guard's deadline runs only while we wait for the client.
        ConnectionGuard.mark(busy ? .serving : connectionState, context)
    }

    /// A recording publisher over TCP must keep sending (the guard's idle check); over UDP its
    /// connection may be quiet: its datagrams (`touch`) and the Source's receive timeout count.
    private var connectionState: ConnectionState {
        if session?.player != nil { return .playing }
        guard let publisher, publisher.state == .recording else { return .waiting }
        return publisher.isTCP == true ? .publishing : .playing
    }

    /// The request in progress is answered: take the next one.
    func finish(_ context: ChannelHandlerContext) {
        busy = false
        drain(context)
    }

    /// Runs `work` off the loop (waiting for a stream, binding sockets), then `then` back on it.
    /// Requests behind this one wait; `then` must end with `finish` (directly or later).
    func runAsync<T: Sendable>(_ context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> T,
                               then: @escaping (RTSPServerHandler, ChannelHandlerContext, T) -> Void) {
        busy = true
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context, then), eventLoop: loop)
        Task {
            let result = await work()
            loop.execute {
                let (handler, context, then) = bound.value
                then(handler, context, result)
            }
        }
    }

    /// Binds a UDP port pair for a SETUP off the loop (503 when none is free), then `then` on the
    /// loop while the connection is open; the pair is given back unless `then` keeps it (true).
    /// Requests behind this one wait until it is done.
    func bindUDPPair(_ context: ChannelHandlerContext, _ request: RTSPRequest,
                     onDatagram: @escaping @Sendable (_ rtcp: Bool, AddressedEnvelope<ByteBuffer>) -> Void,
                     then: @escaping (RTSPServerHandler, ChannelHandlerContext, UDPSocketPair) -> Bool) {
        let ports = self.ports
        let loop = context.eventLoop
        let host = localIP
        runAsync(context, { () async -> Result<UDPSocketPair, any Error> in
            do {
                return .success(try await ports.bindPair(host: host, on: loop, onDatagram: onDatagram))
            } catch {
                return .failure(error)
            }
        }, then: { handler, context, result in
            switch result {
            case .failure(let error):
                handler.logger.error("RTSP UDP SETUP from \(handler.remote): \(error)")
                handler.respond(context, request, RTSPResponse(503, body: "no UDP ports\n"))
            case .success(let pair):
                if handler.closing || !context.channel.isActive || !then(handler, context, pair) {
                    pair.close()
                    ports.release(pair.port)
                }
            }
            handler.finish(context)
        })
    }

    /// Marks the request busy until `finish` (PLAY: until the player answers it).
    func holdQueue() { busy = true }

    // MARK: responses

    func respond(_ context: ChannelHandlerContext, _ request: RTSPRequest, _ response: RTSPResponse,
                 session: String? = nil) {
        guard context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(response.encoded(cseq: request.cseq, session: session)), promise: nil)
    }

    /// Who is playing, for hooks, logs and the admin API.
    func playerInfo(params: [String: String]) -> SessionInfo {
        SessionInfo(sessionID: session?.id ?? pendingSessionID, protocolName: "rtsp", remoteAddress: remote, params: params)
    }

    /// "id;timeout=seconds" as the Session header carries it.
    func sessionHeader(_ session: RTSPSession) -> String {
        sessionHeader(session.id)
    }

    func sessionHeader(_ id: String) -> String {
        "\(id);timeout=\(max(1, sessionTimeout.nanoseconds / 1_000_000_000))"
    }

    // MARK: liveness

    func touch() {
        lastActivity = .now()
    }

    private func checkIdle(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        // Over TCP a playing session lives as long as its connection does: the slow-player
        // policy ends it if the client stops reading. Otherwise requests (keep-alives) and RTCP
        // must keep arriving.
        if let session, session.player != nil, session.isTCP == true { return }
        if let publisher, publisher.state == .admitting { return }
        let idle = NIODeadline.now() - lastActivity
        guard idle > sessionTimeout else { return }
        let what = session.map { "RTSP session \($0.id) of \($0.source.id)" }
            ?? publisher.map { "RTSP publisher session \($0.id) of \($0.streamID)" } ?? "RTSP connection"
        logger.info("\(what) from \(remote) timed out after \(idle.nanoseconds / 1_000_000) ms without requests or RTCP")
        closing = true
        context.close(promise: nil)
    }

    func fail(_ context: ChannelHandlerContext, _ reason: String) {
        guard !closing else { return }
        closing = true
        logger.warning("closing RTSP connection from \(remote): \(reason)")
        context.close(promise: nil)
    }
}
