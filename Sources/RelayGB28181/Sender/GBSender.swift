import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore

/// One cascade sender: a live stream re-muxed to RTP/PS (`GBSenderMuxer`) and sent to an upper
/// platform over UDP, a TCP connection we open (tcp-active) or one the platform opens to a port
/// we listen on (tcp-passive).
///
/// Its sockets live on the source's event loop, and everything but the counters is confined to
/// it. It stops — once, with a reason, firing `on_sender_stop` and leaving its table — when the
/// operator deletes it, the stream ends, the peer closes or cannot keep up, or the connection is
/// not made within `connectTimeoutMs`.
final class GBSender: @unchecked Sendable {
    typealias State = GBSenderState

    /// What the admin API and the hook show, readable from any thread.
    struct Shared: Sendable {
        var state: State = .connecting
        var localPort: Int?
        var peer: String?
        var reason: String?
    }

    let id: UInt64
    let request: GBSenderRequest
    let source: Source
    var loop: any EventLoop { source.eventLoop }
    let since = NIODeadline.now()
    let counters = NIOLockedValueBox(GBSenderCounters())
    let shared = NIOLockedValueBox(Shared())
    private let context: RelayContext
    private let table: GBSenderTable
    private let logger: Logger
    /// tcp-passive listens on `host`, on `request.localPort` or else a port of `ports`.
    private let host: String
    private let ports: ClosedRange<Int>

    // Confined to `loop`.
    private var sink: GBSenderSink?
    private var connection: (any Channel)?
    private var sockets: [any Channel] = []
    private var timer: Scheduled<Void>?
    private var stopped = false
    private var lastError = ""

    /// How long a stopped sender's TCP connection may take to write what is queued.
    static let closeGrace = TimeAmount.seconds(2)

    var kind: OutputKind { .rtpPS(request.format) }

    init(id: UInt64, request: GBSenderRequest, source: Source, context: RelayContext, table: GBSenderTable,
         host: String, ports: ClosedRange<Int>) {
        self.id = id
        self.request = request
        self.source = source
        self.context = context
        self.table = table
        self.host = host
        self.ports = ports
        var logger = context.logger
        logger[metadataKey: "stream"] = "\(request.stream)"
        logger[metadataKey: "sender"] = "\(id)"
        self.logger = logger
    }

    // MARK: start

    /// Opens what the mode needs and, for udp, starts sending. Throws what the admin API answers.
    func start() async throws {
        let live = try await loop.submit { [self] in
            source.assumeIsolated { src -> Bool in
                guard src.isReady, !src.isClosed else { return false }
                // Also ends a sender that is still connecting; a sending one ends with its sink.
                src.whenClosed { [weak self] in self?.streamClosed() }
                return true
            }
        }.get()
        guard live else { throw GBSenderError.notLive(request.stream) }
        do {
            switch request.mode {
            case .udp: try await startUDP()
            case .tcpActive: try await startActive()
            case .tcpPassive: try await listen()
            }
        } catch {
            await stopNow("not started: \(error)", notify: false)
            throw error
        }
    }

    private func resolve(_ dest: String) async throws -> SocketAddress {
        guard let (host, port) = parseHostPort(dest) else { throw GBSenderError.invalid("'dest' must be \"host:port\"") }
        do {
            // getaddrinfo blocks: on the thread pool, never on an event loop.
            return try await NIOThreadPool.singleton.runIfActive { try SocketAddress.makeAddressResolvingHost(host, port: port) }
        } catch {
            throw GBSenderError.invalid("cannot resolve dest host '\(printable(host))': \(error)")
        }
    }

    private func startUDP() async throws {
        let target = try await resolve(request.dest ?? "")
        let socket: any Channel
        do {
            socket = try await DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(GBSenderPeerHandler()) }
                }
                .bind(host: Self.anyHost(for: target), port: request.localPort ?? 0).get()
        } catch {
            throw GBSenderError.conflict("cannot open a UDP socket\(request.localPort.map { " on port \($0)" } ?? ""): \(error)")
        }
        let attached = try await loop.submit { [self] in
            guard !stopped else {  // the stream ended meanwhile
                socket.close(promise: nil)
                return false
            }
            sockets.append(socket)
            return attach(.udp(GBSenderUDPOutput(socket: socket, target: target)), localPort: socket.localAddress?.port,
                          peer: target.displayString)
        }.get()
        guard attached else { throw GBSenderError.notLive(request.stream) }
    }

    /// The wildcard address of `target`'s family, which a socket to it binds.
    private static func anyHost(for target: SocketAddress) -> String {
        target.protocol == .inet6 ? "::" : "0.0.0.0"
    }

    private func startActive() async throws {
        let target = try await resolve(request.dest ?? "")
        let deadline = NIODeadline.now() + .milliseconds(Int64(request.connectTimeoutMs))
        loop.execute { [self] in
            timer = loop.scheduleTask(deadline: deadline) { [self] in
                stop("cannot connect to \(request.dest ?? "") within \(request.connectTimeoutMs) ms\(lastError.isEmpty ? "" : ": " + lastError)")
            }
            dial(target)
        }
    }

    /// One connection attempt; a failure retries every 500 ms until the deadline timer stops the sender.
    /// With `localPort` it connects from that port (SO_REUSEADDR: a retry reuses it at once).
    private func dial(_ target: SocketAddress) {
        guard !stopped else { return }
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(min(request.connectTimeoutMs, 5000))))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let port = request.localPort, let local = try? SocketAddress(ipAddress: Self.anyHost(for: target), port: port) {
            bootstrap = bootstrap.channelOption(.socketOption(.so_reuseaddr), value: 1).bind(to: local)
        }
        bootstrap
            .channelInitializer { [self] ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(peerHandler()) }
            }
            .connect(to: target)
            .whenComplete { [self] result in
                switch result {
                case .success(let ch):
                    connected(ch)
                case .failure(let error):
                    lastError = "\(error)"
                    guard !stopped else { return }
                    loop.scheduleTask(in: .milliseconds(500)) { [self] in dial(target) }
                }
            }
    }

    private func listen() async throws {
        let count = request.localPort == nil ? ports.count : 1
        let first = Int.random(in: 0..<count)
        for i in 0..<count {
            let port = request.localPort ?? ports.lowerBound + (first + i) % count
            let bootstrap = ServerBootstrap(group: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] ch in
                    ch.eventLoop.makeCompletedFuture { try admit(ch) }
                }
            guard let listener = try? await bootstrap.bind(host: host, port: port).get() else { continue }
            try await loop.submit { [self] in
                guard !stopped else {
                    listener.close(promise: nil)
                    throw GBSenderError.notLive(request.stream)
                }
                sockets.append(listener)
                shared.withLockedValue {
                    $0.state = .listening
                    $0.localPort = port
                }
                timer = loop.scheduleTask(in: .milliseconds(Int64(request.connectTimeoutMs))) { [self] in
                    stop("the upper platform did not connect within \(request.connectTimeoutMs) ms")
                }
            }.get()
            return
        }
        if let port = request.localPort { throw GBSenderError.conflict("cannot listen on port \(port): it is in use") }
        throw GBSenderError.conflict("no free port in \(ports.lowerBound)...\(ports.upperBound) (gb28181.port_min...port_max) to listen on")
    }

    /// tcp-passive: the first connection (from the dest host, when one was given) is the peer.
    private func admit(_ ch: any Channel) throws {
        let from = ch.remoteAddress
        if stopped || connection != nil {
            throw GBSenderRefusal.busy
        }
        if let dest = request.dest, let expected = parseHostPort(dest)?.host, let ip = from?.ipAddress,
           (try? SocketAddress(ipAddress: expected, port: 0)) != nil, expected != ip {
            logger.warning("gb28181 sender \(id): refused a connection from \(from?.displayString ?? "?"): only \(expected) may connect")
            throw GBSenderRefusal.wrongPeer
        }
        connection = ch
        try ch.pipeline.syncOperations.addHandler(peerHandler(onActive: { [self] in connected(ch) }))
    }

    private func peerHandler(onActive: (() -> Void)? = nil) -> GBSenderPeerHandler {
        GBSenderPeerHandler(onActive: onActive) { [self] why in
            loop.execute { [self] in stop(why) }
        }
    }

    /// A TCP connection to the platform is up: send on it (on `loop`).
    private func connected(_ ch: any Channel) {
        guard !stopped else { ch.close(promise: nil); return }
        timer?.cancel()
        timer = nil
        connection = ch
        for s in sockets { s.close(promise: nil) }  // tcp-passive: one connection only
        sockets = [ch]
        // As a player's socket: the water mark starts the slow-peer policy, the send buffer is bounded.
        _ = try? ch.syncOptions?.setOption(.writeBufferWaterMark, value: PlayerSocket.waterMark(context.config.player))
        PlayerSocket.applySendBuffer(context.config.player, to: ch)
        let info = SessionInfo(sessionID: "\(id)", protocolName: "gb28181", remoteAddress: ch.remoteAddress?.displayString ?? "?")
        let channelSink = ChannelSink(id: id, channel: ch, info: info, policy: SlowPlayerPolicy(context.config.player), logger: logger)
        // Called on `loop` right after the sink closed the channel: its reason (slow peer) comes
        // before the peer handler's "closed", which is deferred.
        channelSink.onClose = { [self] why in
            stop(why.hasPrefix("slow player: ") ? "slow peer: " + why.dropFirst("slow player: ".count) : why)
        }
        let port = request.mode == .tcpPassive ? shared.withLockedValue { $0.localPort } : ch.localAddress?.port
        if !attach(.tcp(channelSink), localPort: port, peer: ch.remoteAddress?.displayString) {
            stop("stream ended")
        }
    }

    /// Joins the stream's `.rtpPS` TransStream; false when the stream is gone.
    private func attach(_ output: GBSenderOutput, localPort: Int?, peer: String?) -> Bool {
        loop.assertInEventLoop()
        guard !stopped else { return false }
        let sink = GBSenderSink(id: id, eventLoop: loop, output: output, counters: counters) { [self] in stop("stream ended") }
        self.sink = sink
        shared.withLockedValue {
            $0.state = .sending
            $0.localPort = localPort
            $0.peer = peer
        }
        let format = request.format
        let kind = self.kind
        let ok = source.assumeIsolated { $0.attach(sink, kind: kind, muxer: GBSenderMuxer.factory(format)) }
        if ok {
            logger.info("gb28181 sender \(id) sending \(request.stream) as SSRC \(GBSSRC.format(request.ssrc)) to \(peer ?? "?") (\(request.mode))")
        } else {
            self.sink = nil
        }
        return ok
    }

    /// What the admin API and a facade show.
    var info: GBSenderInfo {
        let shared = shared.withLockedValue { $0 }
        let c = counters.withLockedValue { $0 }
        return GBSenderInfo(id: id, stream: request.stream, ssrc: request.ssrc, mode: request.mode, dest: request.dest,
                            payloadType: request.payloadType, audioOnly: request.audioOnly, state: shared.state,
                            localPort: shared.localPort ?? request.localPort, peer: shared.peer, reason: shared.reason,
                            bytesSent: c.bytes, packetsSent: c.packets, segmentsDropped: c.segmentsDropped,
                            seconds: Double((NIODeadline.now() - since).nanoseconds) / 1e9)
    }

    // MARK: stop

    private func streamClosed() {
        // A sender that is sending ends with its sink (`sourceEnded`), after the last segment.
        guard sink == nil else { return }
        stop("stream ended")
    }

    /// Stops from any thread and returns once stopped (the admin API's DELETE).
    func stopNow(_ reason: String, notify: Bool = true) async {
        try? await loop.submit { [self] in stop(reason, notify: notify) }.get()
    }

    /// Stops once: detaches, closes its sockets (a TCP connection after what is queued is
    /// written), leaves the table and fires `on_sender_stop`. On `loop`.
    func stop(_ reason: String, notify: Bool = true) {
        loop.assertInEventLoop()
        guard !stopped else { return }
        stopped = true
        timer?.cancel()
        timer = nil
        if let sink {
            sink.stop()
            source.detachLater(sink, kind: kind)
        }
        for s in sockets {
            if s === connection {
                // What is queued goes out first; a peer that does not read gets a moment, not forever.
                s.writeAndFlush(ByteBuffer()).whenComplete { _ in s.close(promise: nil) }
                s.eventLoop.scheduleTask(in: Self.closeGrace) { s.close(promise: nil) }
            } else {
                s.close(promise: nil)
            }
        }
        sockets.removeAll()
        let final = shared.withLockedValue { s -> Shared in
            s.state = .stopped
            s.reason = reason
            return s
        }
        table.remove(self)
        guard notify else { return }
        let c = counters.withLockedValue { $0 }
        let ms = (NIODeadline.now() - since).nanoseconds / 1_000_000
        let to = final.peer ?? request.dest ?? final.localPort.map { "a peer of port \($0)" } ?? "?"
        logger.info("gb28181 sender \(id) of \(request.stream) to \(to) stopped: \(reason) (\(c.packets) packets, \(c.bytes) bytes)")
        var extra: [String: JSONValue] = [
            "sender_id": .number(Double(id)), "ssrc": .string(GBSSRC.format(request.ssrc)), "mode": .string(request.mode.rawValue),
            "payload_type": .number(Double(request.payloadType)), "reason": .string(reason),
            "bytes_sent": .number(Double(c.bytes)), "packets_sent": .number(Double(c.packets)),
            "segments_dropped": .number(Double(c.segmentsDropped)), "duration_ms": .number(Double(ms)),
        ]
        if let dest = request.dest { extra["dest"] = .string(dest) }
        if let port = final.localPort { extra["local_port"] = .number(Double(port)) }
        let session = SessionInfo(sessionID: "\(id)", protocolName: "gb28181", remoteAddress: final.peer ?? request.dest ?? "")
        context.notify(.senderStop, stream: request.stream, session: session, extra: extra)
    }
}
