import Logging
import NIOCore
import RelayCore

/// The UDP port every WebRTC session's media crosses (ICE-lite: the browser checks, we answer).
/// Datagrams are told apart by their first byte (RFC 7983): STUN is routed by the ICE ufrag in
/// its USERNAME and must carry our password's MESSAGE-INTEGRITY; DTLS and SRTP only come from
/// addresses that passed such a check. Anything else is dropped and counted.
///
/// One socket per local address, all on one loop and sharing the session table: a reply must
/// leave from the address the browser sent to (its ICE check fails otherwise), which a socket
/// bound to 0.0.0.0 cannot choose. Confined to `eventLoop`.
final class WebRTCPort {
    let eventLoop: any EventLoop
    private(set) var table = WebRTCSessionTable()
    private let logger: Logger
    private let config: WebRTCConfig
    private var sweep: RepeatedTask?
    private(set) var droppedDatagrams: UInt64 = 0
    private var dropLog = RateLimitedLog(interval: .seconds(10))
    /// Tells the module's gauges a session of a role came (+1) or went (-1).
    private let counts: @Sendable (WebRTCSession.Role, Int) -> Void

    init(eventLoop: any EventLoop, config: WebRTCConfig, logger: Logger,
         counts: @escaping @Sendable (WebRTCSession.Role, Int) -> Void = { _, _ in }) {
        self.eventLoop = eventLoop
        self.config = config
        self.logger = logger
        self.counts = counts
    }

    func startSweeping() {
        let connect = TimeAmount.milliseconds(Int64(config.connectTimeoutMs))
        let consent = TimeAmount.milliseconds(Int64(config.consentTimeoutMs))
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        sweep = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .milliseconds(500)) { _ in
            let now = NIODeadline.now()
            for session in Array(bound.value.table.sessions) {
                session.expireIfDue(now: now, connectTimeout: connect, consentTimeout: consent)
            }
        }
    }

    func add(_ session: WebRTCSession) {
        table.add(session)
        counts(session.role, 1)
        session.onEnd = { [self] in
            table.remove($0)
            counts($0.role, -1)
        }
    }

    /// Ends every session (server stop).
    func endAll(_ reason: String) {
        sweep?.cancel()
        sweep = nil
        for session in Array(table.sessions) { session.end(reason) }
    }

    // MARK: receive

    /// A datagram that arrived on `channel` (one of the port's sockets).
    func receive(_ envelope: AddressedEnvelope<ByteBuffer>, on channel: any Channel) {
        let datagram = envelope.data
        let address = envelope.remoteAddress
        guard let first = datagram.getInteger(at: datagram.readerIndex, as: UInt8.self) else { return }
        switch first {
        case 0...3:
            stun(datagram, from: address, on: channel)
        case 20...63:
            guard let session = table.session(at: address) else { return drop("DTLS from an address without a valid ICE check", address) }
            session.receiveDTLS(datagram, from: address, on: channel)
        case 128...191:
            guard let session = table.session(at: address) else { return drop("RTP/RTCP from an address without a valid ICE check", address) }
            session.receiveSRTP(datagram)
        default:
            drop("not STUN, DTLS or SRTP", address)
        }
    }

    /// A binding request for one of our sessions: answered only when its MESSAGE-INTEGRITY is
    /// made with that session's password (no reflection for strangers).
    private func stun(_ datagram: ByteBuffer, from address: SocketAddress, on channel: any Channel) {
        guard STUNMessage.isSTUN(datagram) else {
            let head = datagram.getBytes(at: datagram.readerIndex, length: min(24, datagram.readableBytes)) ?? []
            return drop("malformed STUN header (\(datagram.readableBytes) bytes: \(head.map { String($0, radix: 16) }.joined(separator: " ")))", address)
        }
        let message: STUNMessage
        do {
            message = try STUNMessage(parsing: datagram)
        } catch {
            return drop("malformed STUN: \(error)", address)
        }
        guard message.method == STUNMessage.bindingMethod, message.messageClass == .request else { return }
        guard let username = message.username, let colon = username.firstIndex(of: ":") else {
            return drop("STUN binding request without USERNAME", address)
        }
        guard let session = table.session(ufrag: String(username[..<colon])), !session.isEnded else {
            return drop("STUN for an unknown ICE ufrag", address)
        }
        guard message.verifyIntegrity(password: session.local.password) else {
            return drop("STUN with a wrong MESSAGE-INTEGRITY", address)
        }
        let answer = STUN.bindingSuccess(transactionID: message.transactionID, mapped: address, password: session.local.password)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: answer), promise: nil)
        let oldest = session.addresses.count == WebRTCSession.maxAddresses ? session.addresses.first : nil
        if session.checked(from: address, on: channel, nominate: message.useCandidate) {
            if let oldest { table.unroute(oldest, from: session) }
            table.route(address, to: session)
        }
    }

    private func drop(_ why: String, _ address: SocketAddress) {
        droppedDatagrams &+= 1
        RelayMetrics.parseError(protocol: "webrtc")
        if let more = dropLog.shouldLog() {
            logger.info("WebRTC port: dropped a datagram from \(address.displayString): \(why)\(suppressed(more))")
        }
    }
}

/// Hands one socket's datagrams to the shared `WebRTCPort`.
final class WebRTCPortHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let port: NIOLoopBound<WebRTCPort>

    init(port: NIOLoopBound<WebRTCPort>) { self.port = port }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        port.value.receive(unwrapInboundIn(data), on: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP error (ICMP port unreachable from a browser that left) is not the port's end.
    }
}
