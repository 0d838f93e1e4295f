import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayRTP

/// GB28181 ingest: receive ports for devices that send RTP/PS, opened on demand (`open`, for the
/// admin API) or from config (`gb28181.receivers`).
///
/// - UDP: one shared port for many devices, told apart by SSRC (unknown SSRCs are dropped with a
///   rate-limited log line), or a port of the receiver's own from `port_min…port_max`. A
///   reorder buffer restores order within `reorder_ms`; a lost packet costs the frame it
///   belonged to (`loss_policy`).
/// - TCP passive: the device connects (possibly long after `open`; the port waits) to the
///   shared TCP port — the SSRC of its first packet picks the receiver — or to the receiver's
///   own port. RFC 4571 framing.
/// - TCP active: the server dials the device's address, retrying every `connect_retry_ms`; the
///   address may come later (`connect`), once the device has answered the platform's INVITE.
///
/// A receiver's Source is created by its first packet (after on_publish, when configured) and
/// ends with `source.receive_timeout_ms` of silence, bad input, a closed connection or `close`.
/// Then a receiver opened by the API is closed (its port and SSRC freed); one from config goes
/// back to waiting. Bad input ends only that source. An API receiver that gets no session within
/// `receiver_timeout_ms` closes too (`on_receiver_timeout`).
///
/// A receiver answers to its stream id and to the name its stream was published under when the
/// on_publish answer renamed it (`receiver(named:)`): platforms name either.
public final class GB28181Service: Sendable {
    public let context: RelayContext
    let config: GB28181Config
    /// Cascade senders (`/api/v1/gb28181/senders`).
    let senderTable: GBSenderTable
    let group: any EventLoopGroup
    let logger: Logger

    struct State {
        var running = false
        var receivers: [String: GBReceiver] = [:]
        var sharedUDP: (any Channel)?
        var sharedTCP: (any Channel)?
        var nextPort: Int
        /// Where "fromRange" ports come from (`gb28181.port_min…port_max`, `setPortRange`).
        var portRange: ClosedRange<Int>
    }

    let state: NIOLockedValueBox<State>

    public init(context: RelayContext, group: any EventLoopGroup) {
        self.context = context
        self.config = context.config.gb28181
        self.group = group
        self.logger = context.logger
        let gb = context.config.gb28181
        self.state = NIOLockedValueBox(State(nextPort: gb.portMin, portRange: gb.portMin...max(gb.portMin, gb.portMax)))
        self.senderTable = GBSenderTable(maxSenders: context.config.gb28181.maxSenders)
    }

    /// A TCP connection must carry an RTP packet this soon after connecting.
    var firstPacketTimeoutMs: Int {
        let t = context.config.source.receiveTimeoutMs
        return t > 0 ? t : 30_000
    }

    // MARK: lifecycle

    /// Binds the shared ports and opens the receivers from config. Does nothing when disabled.
    public func start() async throws {
        guard config.enabled else { return }
        state.withLockedValue { $0.running = true }
        do {
            if config.sharedUDPPort >= 0 {
                let ch = try await bindUDP(port: config.sharedUDPPort, owner: nil)
                state.withLockedValue { $0.sharedUDP = ch }
                logger.info("gb28181 shared UDP port listening on \(ch.localAddress?.displayString ?? "?")")
            }
            if config.sharedTCPPort >= 0 {
                let ch = try await bindTCP(port: config.sharedTCPPort, owner: nil)
                state.withLockedValue { $0.sharedTCP = ch }
                logger.info("gb28181 shared TCP port listening on \(ch.localAddress?.displayString ?? "?")")
            }
            for r in config.receivers {
                let mode = GBMode(rawValue: r.mode) ?? .udp
                _ = try await open(streamID: r.stream, ssrc: r.ssrc, mode: mode,
                                   port: r.port == 0 ? .shared : .fixed(r.port),
                                   deviceAddress: r.device.isEmpty ? nil : r.device, isStatic: true)
            }
        } catch {
            await stop()
            throw error
        }
    }

    /// Closes every receiver (ending its source) and the shared ports.
    public func stop() async {
        let (receivers, shared) = state.withLockedValue { s -> ([GBReceiver], [any Channel]) in
            s.running = false
            let r = Array(s.receivers.values)
            s.receivers.removeAll()
            let shared = [s.sharedUDP, s.sharedTCP].compactMap { $0 }
            s.sharedUDP = nil
            s.sharedTCP = nil
            return (r, shared)
        }
        for r in receivers { await r.shutdown(reason: "server shutting down") }
        for ch in shared { try? await ch.close() }
    }

    public var sharedUDPPort: Int? { state.withLockedValue { $0.sharedUDP?.localAddress?.port } }
    public var sharedTCPPort: Int? { state.withLockedValue { $0.sharedTCP?.localAddress?.port } }

    // MARK: admin API

    /// Opens a receiver for `streamID`.
    ///
    /// - `ssrc`: required on a shared port; nil on an own port accepts the first SSRC seen.
    /// - `port`: `.shared` (the mode's shared port), `.fromRange` or `.fixed(n)`. tcp-active dials
    ///   `deviceAddress` ("host:port") instead — or, without one, waits for `connect` to name it —
    ///   from the local port `.fromRange` / `.fixed(n)` picks (`.shared`: any).
    /// Refuses a stream id that has a receiver or whose publisher the duplicate policy keeps, and
    /// an SSRC in use.
    public func open(streamID: String, ssrc: UInt32?, mode: GBMode, port: GBPort = .shared,
                     deviceAddress: String? = nil) async throws -> GBReceiver {
        try await open(streamID: streamID, ssrc: ssrc, mode: mode, port: port, deviceAddress: deviceAddress, isStatic: false)
    }

    /// Closes a receiver, named by its id or published name (its source ends, its port is
    /// freed). False when there is none.
    @discardableResult
    public func close(streamID: String) async -> Bool {
        guard let receiver = receiver(named: streamID) else { return false }
        return await close(receiver)
    }

    /// Removes and shuts `receiver` down; false when it was gone already.
    func close(_ receiver: GBReceiver, reason: String = "receiver closed") async -> Bool {
        let removed = state.withLockedValue { s -> Bool in
            guard s.receivers[receiver.streamID] === receiver else { return false }
            s.receivers[receiver.streamID] = nil
            return true
        }
        guard removed else { return false }
        await receiver.shutdown(reason: reason)
        logger.info("gb28181 receiver \(receiver.streamID) closed\(reason == "receiver closed" ? "" : ": " + reason)")
        return true
    }

    public func list() -> [GBReceiverInfo] {
        state.withLockedValue { Array($0.receivers.values) }.map(\.info).sorted { $0.streamID < $1.streamID }
    }

    /// By open-time stream id only.
    public func receiver(_ streamID: String) -> GBReceiver? {
        state.withLockedValue { $0.receivers[streamID] }
    }

    // MARK: internals

    private func open(streamID: String, ssrc: UInt32?, mode: GBMode, port: GBPort, deviceAddress: String?,
                      isStatic: Bool) async throws -> GBReceiver {
        guard config.enabled else { throw GBError.disabled }
        guard isValidStreamID(streamID) else { throw GBError.invalidStreamID(streamID) }
        var device: (host: String, port: Int)?
        var shared = false
        switch mode {
        case .tcpActive:
            if let address = deviceAddress {
                guard let parsed = parseHostPort(address) else { throw GBError.invalidDeviceAddress(address) }
                device = parsed
            }
        case .udp, .tcpPassive:
            if port == .shared {
                shared = true
                guard ssrc != nil else { throw GBError.ssrcRequired(mode) }
            }
        }
        let receiver = GBReceiver(streamID: streamID, ssrc: ssrc, mode: mode, isStatic: isStatic,
                                  usesSharedPort: shared, device: device, timeout: receiverTimeout)
        // Reserve the id and SSRC before binding, so concurrent opens cannot both win.
        try state.withLockedValue { s in
            guard s.running else { throw GBError.notStarted }
            if shared {
                let ch = mode == .udp ? s.sharedUDP : s.sharedTCP
                guard ch != nil else { throw GBError.noSharedPort(mode) }
                receiver.setPort(ch?.localAddress?.port)
            }
            guard s.receivers[streamID] == nil else { throw GBError.duplicateStream(streamID) }
            if let ssrc, s.receivers.values.contains(where: { $0.ssrc == ssrc }) {
                throw GBError.duplicateSSRC(GBSSRC.format(ssrc))
            }
            s.receivers[streamID] = receiver
        }
        // A live publisher of the id stays unless the duplicate policy lets a GB28181 stream take
        // over (at its first packet, in admission). A source whose device dropped and whose
        // players wait for it may be invited again.
        if case .busy(_, let holder)? = context.publishConflict(streamID, protocolName: "gb28181") {
            forget(receiver)
            throw GBError.streamPublished(streamID, holder: holder)
        }
        do {
            switch (mode, shared) {
            case (.tcpActive, _):
                // A local port to dial from when asked for (a platform puts it in its SDP).
                if port != .shared { receiver.setDialPort(try await dialPort(port)) }
                receiver.setPort(device?.port)
                if device != nil { dial(receiver, generation: receiver.dialGeneration) }
            case (_, true):
                break
            case (.udp, false):
                let ch = try await bindOwn(port, owner: receiver)
                receiver.setPort(ch.localAddress?.port)
            case (.tcpPassive, false):
                let ch = try await bindOwn(port, owner: receiver)
                receiver.setPort(ch.localAddress?.port)
            }
        } catch {
            forget(receiver)
            await receiver.shutdown(reason: "open failed")
            throw error
        }
        let port = receiver.info.port.map(String.init) ?? "?"
        let place = mode == .tcpActive ? deviceAddress.map { "device \($0)" } ?? "waiting for the device's address"
            : shared ? "shared \(mode == .udp ? "UDP" : "TCP") port \(port)" : "port \(port)"
        logger.info("gb28181 receiver \(streamID) open: \(mode), SSRC \(ssrc.map(GBSSRC.format) ?? "any"), \(place)\(isStatic ? " (config)" : "")")
        receiver.startIdleTimer()
        return receiver
    }

    private func forget(_ receiver: GBReceiver) {
        state.withLockedValue { s in
            if s.receivers[receiver.streamID] === receiver { s.receivers[receiver.streamID] = nil }
        }
    }

    /// The receiver on the shared port of `mode` expecting `ssrc`.
    func sharedReceiver(mode: GBMode, ssrc: UInt32) -> GBReceiver? {
        state.withLockedValue { s in
            s.receivers.values.first { $0.usesSharedPort && $0.mode == mode && $0.ssrc == ssrc }
        }
    }

    /// A session of `receiver` ended: an API receiver closes, a config one waits again.
    /// UDP: packets put back in order within `reorder_ms` (the start settles for half of it, at
    /// most 50 ms); TCP delivers in order.
    func reorderBuffer(for mode: GBMode) -> RTPReorderBuffer<RTPPacket> {
        guard mode == .udp else { return RTPReorderBuffer(window: 0) }
        let ms = Int64(config.reorderMs)
        return RTPReorderBuffer(capacity: config.reorderWindow, holdNanos: ms > 0 ? ms * 1_000_000 : nil,
                                settleNanos: min(ms / 2, 50) * 1_000_000)
    }

    func sessionEnded(_ receiver: GBReceiver) {
        receiver.detach()
        guard !receiver.isStatic, receiver.markClosed() else { return }
        // Closed at once (no new session can start), removed and unbound on a task.
        Task { _ = await self.close(receiver) }
    }

    // MARK: sockets

    private func bindOwn(_ port: GBPort, owner: GBReceiver) async throws -> any Channel {
        switch port {
        case .shared:
            // `open` never asks for one (shared receivers have no port of their own); refuse, not trap.
            throw GBError.noSharedPort(owner.mode)
        case .fixed(let n):
            // SO_REUSEADDR lets a second UDP socket bind a port: refuse one another receiver holds.
            if let holder = holder(of: n, udp: owner.mode == .udp) { throw GBError.bindFailed(n, "receiver \(holder) uses it") }
            let ch: any Channel
            do {
                ch = owner.mode == .udp ? try await bindUDP(port: n, owner: owner) : try await bindTCP(port: n, owner: owner)
            } catch {
                throw GBError.bindFailed(n, "\(error)")
            }
            guard owner.own(ch) else { try? await ch.close(); throw GBError.notStarted }
            return ch
        case .fromRange:
            let ch = try await fromRange(udp: owner.mode == .udp) { n in
                try? await (owner.mode == .udp ? self.bindUDP(port: n, owner: owner) : self.bindTCP(port: n, owner: owner))
            }
            guard owner.own(ch) else { try? await ch.close(); throw GBError.notStarted }
            return ch
        }
    }

    /// The first port of the range, from the rotating cursor on and skipping those a receiver
    /// holds, for which `attempt` succeeds.
    private func fromRange<T: Sendable>(udp: Bool, _ attempt: (Int) async -> T?) async throws -> T {
        let range = portRange
        for _ in 0..<range.count {
            let n = state.withLockedValue { s -> Int in
                let n = s.portRange.contains(s.nextPort) ? s.nextPort : s.portRange.lowerBound
                s.nextPort = n >= s.portRange.upperBound ? s.portRange.lowerBound : n + 1
                return n
            }
            guard holder(of: n, udp: udp) == nil, let found = await attempt(n) else { continue }
            return found
        }
        throw GBError.noFreePort(min: range.lowerBound, max: range.upperBound)
    }

    /// tcp-active: a TCP port no receiver holds and nothing listens on, to dial the device from.
    private func dialPort(_ port: GBPort) async throws -> Int {
        let free: @Sendable (Int) async -> Bool = { [self] n in
            guard let probe = try? await ServerBootstrap(group: group).bind(host: config.host, port: n).get() else { return false }
            try? await probe.close()
            return true
        }
        switch port {
        case .shared:
            throw GBError.noSharedPort(.tcpActive)
        case .fixed(let n):
            if let holder = holder(of: n, udp: false) { throw GBError.bindFailed(n, "receiver \(holder) uses it") }
            guard await free(n) else { throw GBError.bindFailed(n, "in use") }
            return n
        case .fromRange:
            return try await fromRange(udp: false) { n in await free(n) ? n : nil }
        }
    }

    /// The receiver with a port of its own `n` (UDP, or TCP: listening or dialing from), if any.
    private func holder(of n: Int, udp: Bool) -> String? {
        let receivers = state.withLockedValue { Array($0.receivers.values) }
        return receivers.first { !$0.usesSharedPort && ($0.mode == .udp) == udp && $0.info.localPort == n }?.streamID
    }

    private func bindUDP(port: Int, owner: GBReceiver?) async throws -> any Channel {
        let service = self
        return try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(GBUDPHandler(service: service, owner: owner))
                }
            }
            .bind(host: config.host, port: port)
            .get()
    }

    private func bindTCP(port: Int, owner: GBReceiver?) async throws -> any Channel {
        let service = self
        return try await RelayListener.bind(host: config.host, port: port, group: group, relay: context, name: "gb28181",
                                            options: .init(servesPlayers: false, backlog: 256, receiveBufferBytes: 1 << 20)) { ch in
            try service.addTCPHandlers(ch, owner: owner, mode: .tcpPassive)
        }
    }

    @discardableResult
    func addTCPHandlers(_ ch: any Channel, owner: GBReceiver?, mode: GBMode) throws -> GBTCPHandler {
        let handler = GBTCPHandler(service: self, owner: owner, mode: mode)
        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(GBTCPFrameDecoder(onFraming: handler.framingDetected), maximumBufferSize: 1 << 20))
        try ch.pipeline.syncOperations.addHandler(PublishOnFirstFrame())
        try ch.pipeline.syncOperations.addHandler(handler)
        return handler
    }

    /// tcp-active: connects to the device; retries while the receiver is open and idle and its
    /// device is the one of `generation`.
    func dial(_ receiver: GBReceiver, generation: UInt64) {
        guard receiver.dialGeneration == generation, let device = receiver.device, !receiver.isClosed,
              !receiver.isAttached else { return }
        let service = self
        let retry = TimeAmount.milliseconds(Int64(config.connectRetryMs))
        let loop = group.next()
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
        if let port = receiver.dialPort {
            // From the port the platform announced; SO_REUSEADDR: a redial reuses it at once.
            let wildcard = config.host == "0.0.0.0" || config.host == "::" || config.host.isEmpty
            let host = wildcard ? (device.host.contains(":") ? "::" : "0.0.0.0") : config.host
            if let local = try? SocketAddress(ipAddress: host, port: port) {
                bootstrap = bootstrap.channelOption(.socketOption(.so_reuseaddr), value: 1).bind(to: local)
            }
        }
        bootstrap
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try service.context.guardConnection(ch, listener: "gb28181")
                    let handler = try service.addTCPHandlers(ch, owner: receiver, mode: .tcpActive)
                    handler.onClose = {
                        receiver.disown(ch)
                        guard !receiver.isClosed else { return }
                        ch.eventLoop.scheduleTask(in: retry) { service.dial(receiver, generation: generation) }
                    }
                }
            }
            .connect(host: device.host, port: device.port)
            .whenComplete { result in
                switch result {
                case .success(let ch):
                    if receiver.own(ch, dialGeneration: generation) {
                        service.logger.info("gb28181 \(receiver.streamID): connected to device \(device.host):\(device.port)")
                    } else {
                        ch.close(promise: nil)
                    }
                case .failure(let error):
                    guard !receiver.isClosed, receiver.dialGeneration == generation else { return }
                    service.logger.debug("gb28181 \(receiver.streamID): cannot reach device \(device.host):\(device.port): \(error); retrying")
                    loop.scheduleTask(in: retry) { service.dial(receiver, generation: generation) }
                }
            }
    }
}
