import Logging
import NIOCore
import RelayCore

/// The UDP port every WebRTC session's media crosses (ICE-lite: the browser checks, we answer).
/// Datagrams are told apart by their first byte (RFC 7983): STUN is routed by the ICE ufrag in
/// its USERNAME and must carry our password's MESSAGE-INTEGRITY; DTLS and SRTP only come from
/// addresses that passed such a check. Anything else is dropped and counted. Confined to the
/// channel's loop.
final class WebRTCPort {
    let channel: any Channel
    private(set) var table = WebRTCSessionTable()
    private let logger: Logger
    private let config: WebRTCConfig
    private var sweep: RepeatedTask?
    private(set) var droppedDatagrams: UInt64 = 0
    private var dropLog = RateLimitedLog(interval: .seconds(10))
    /// Tells the module's gauges a session of a role came (+1) or went (-1).
    private let counts: @Sendable (WebRTCSession.Role, Int) -> Void

    init(channel: any Channel, config: WebRTCConfig, logger: Logger,
         counts: @escaping @Sendable (WebRTCSession.Role, Int) -> Void = { _, _ in }) {
        self.channel = channel
        self.config = config
        self.logger = logger
        self.counts = counts
    }

    var eventLoop: any EventLoop { channel.eventLoop }

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

    func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        let datagram = envelope.data
        let address = envelope.remoteAddress
        guard let first = datagram.getInteger(at: datagram.readerIndex, as: UInt8.self) else { return }
        switch first {
        case 0...3:
            stun(datagram, from: address)
        case 20...63:
            guard let session = table.session(at: address) else { return drop("DTLS from an address without a valid ICE check", address) }
            session.receiveDTLS(datagram, from: address)
        case 128...191:
            guard let session = table.session(at: address) else { return drop("RTP/RTCP from an address without a valid ICE check", address) }
            session.receiveSRTP(datagram)
        default:
            drop("not STUN, DTLS or SRTP", address)
        }
    }

    /// A binding request for one of our sessions: answered only when its MESSAGE-INTEGRITY is
    /// made with that session's password (no reflection for strangers).
    private func stun(_ datagram: ByteBuffer, from address: SocketAddress) {
        guard STUNMessage.isSTUN(datagram), let message = try? STUNMessage(parsing: datagram) else {
            return drop("malformed STUN", address)
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
        if session.checked(from: address, nominate: message.useCandidate) {
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

/// Hands the port's datagrams to its `WebRTCPort` (made with the channel).
final class WebRTCPortHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let config: WebRTCConfig
    private let logger: Logger
    private let counts: @Sendable (WebRTCSession.Role, Int) -> Void
    private(set) var port: WebRTCPort?

    init(config: WebRTCConfig, logger: Logger, counts: @escaping @Sendable (WebRTCSession.Role, Int) -> Void) {
        self.config = config
        self.logger = logger
        self.counts = counts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        port = WebRTCPort(channel: context.channel, config: config, logger: logger, counts: counts)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        port?.receive(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP error (ICMP port unreachable from a browser that left) is not the port's end.
    }
}
