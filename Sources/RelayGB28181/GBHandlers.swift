import Logging
import NIOCore
import RelayCore
import RelayRTP

/// A UDP port: the shared one (sessions found by SSRC among the receivers on it) or a
/// receiver's own. Sessions live on this channel's loop.
final class GBUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let service: GB28181Service
    /// The receiver owning this port; nil on the shared port.
    private let owner: GBReceiver?
    private var sessions: [UInt32: GBSession] = [:]
    private var unknownLog = RateLimitedLog()
    private var badLog = RateLimitedLog()
    private let logger: Logger

    init(service: GB28181Service, owner: GBReceiver?) {
        self.service = service
        self.owner = owner
        self.logger = service.context.logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let size = envelope.data.readableBytes
        let packet: RTPPacket
        do {
            packet = try RTPPacket(parsing: envelope.data)
        } catch {
            RelayMetrics.parseError(protocol: "gb28181")
            if let more = badLog.shouldLog() {
                logger.warning("GB28181: dropping a UDP datagram from \(envelope.remoteAddress.displayString) on port \(context.localAddress?.port ?? 0): \(error)\(suppressed(more))")
            }
            return
        }
        if let session = sessions[packet.ssrc] {
            // Pinned to its first source address: a datagram with its SSRC from elsewhere is not its.
            guard session.admits(from: envelope.remoteAddress) else { return }
            session.receive(packet, size: size)
            return
        }
        // A receiver's own port: a new SSRC from the address its stream is pinned to is the same
        // device (a firmware quirk, a re-INVITE): the stream follows it. On the shared port the
        // SSRC is what tells streams apart, so a new one is another stream.
        if owner != nil, let session = sessions.values.first, session.isPinned(to: envelope.remoteAddress) {
            guard !session.justLeft(packet.ssrc) else { return }
            sessions[session.ssrc] = nil
            session.follow(ssrc: packet.ssrc)
            sessions[packet.ssrc] = session
            session.receive(packet, size: size)
            return
        }
        let remote = envelope.remoteAddress.displayString
        let receiver: GBReceiver?
        if let owner {
            receiver = owner.ssrc == nil || owner.ssrc == packet.ssrc ? owner : nil
        } else {
            receiver = service.sharedReceiver(mode: .udp, ssrc: packet.ssrc)
        }
        guard let receiver else {
            if let more = unknownLog.shouldLog() {
                logger.warning("GB28181: dropping RTP from \(remote) on UDP port \(context.localAddress?.port ?? 0): unknown SSRC \(GBSSRC.format(packet.ssrc))\(suppressed(more))")
            }
            return
        }
        guard let session = GBSession.start(receiver: receiver, ssrc: packet.ssrc, loop: context.eventLoop, remote: remote,
                                            service: service, pinnedTo: envelope.remoteAddress) else {
            if !receiver.isClosed, let more = receiver.mayLogRefusal() {
                logger.warning("GB28181: dropping RTP from \(remote) (SSRC \(GBSSRC.format(packet.ssrc))) for \(receiver.streamID): it is already receiving another SSRC\(suppressed(more))")
            }
            return
        }
        // Removed under the SSRC it has when it ends (it may have followed a new one).
        let bound = NIOLoopBound((self, session), eventLoop: context.eventLoop)
        session.onEnd = {
            let (handler, session) = bound.value
            if handler.sessions[session.ssrc] === session { handler.sessions[session.ssrc] = nil }
        }
        sessions[packet.ssrc] = session
        session.receive(packet, size: size)
    }

    func channelInactive(context: ChannelHandlerContext) {
        for session in Array(sessions.values) { session.end("port closed") }
        sessions.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like surface here for UDP; nothing to close.
        logger.debug("GB28181 UDP port \(context.localAddress?.port ?? 0): \(error)")
    }
}

/// One TCP connection carrying RTP (RFC 4571 framed, or however `GBTCPFrameDecoder` finds the
/// device frames it): accepted on the shared port (bound to a receiver by the SSRC of its first
/// packet), accepted on a receiver's own port, or dialed by us (tcp-active).
final class GBTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let service: GB28181Service
    private let owner: GBReceiver?
    private let mode: GBMode
    private var session: GBSession?
    private var remote = "?"
    private var firstPacketTimer: Scheduled<Void>?
    private var closing = false
    private let logger: Logger
    /// Called once when the connection closes (tcp-active redials).
    var onClose: (() -> Void)?

    init(service: GB28181Service, owner: GBReceiver?, mode: GBMode) {
        self.service = service
        self.owner = owner
        self.mode = mode
        self.logger = service.context.logger
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.remoteAddress?.displayString ?? "?"
        let ms = service.firstPacketTimeoutMs
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        firstPacketTimer = context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
            let (handler, context) = bound.value
            handler.fail(context, "no RTP within \(ms) ms of connecting")
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        guard frame.readableBytes > 0 else { return }  // keep-alive
        let packet: RTPPacket
        do {
            packet = try RTPPacket(parsing: frame)
        } catch {
            fail(context, "\(error)")
            return
        }
        if let session {
            // The connection is the device: a new SSRC on it (firmware quirk, re-INVITE) is followed.
            if packet.ssrc != session.ssrc { session.follow(ssrc: packet.ssrc) }
            session.receive(packet, size: frame.readableBytes + 2)
            return
        }
        let receiver: GBReceiver?
        if let owner {
            receiver = owner.ssrc == nil || owner.ssrc == packet.ssrc ? owner : nil
        } else {
            receiver = service.sharedReceiver(mode: mode, ssrc: packet.ssrc)
        }
        guard let receiver else {
            fail(context, "unknown SSRC \(GBSSRC.format(packet.ssrc))")
            return
        }
        guard let started = GBSession.start(receiver: receiver, ssrc: packet.ssrc, loop: context.eventLoop, remote: remote,
                                            service: service) else {
            fail(context, receiver.isClosed ? "receiver \(receiver.streamID) is closed"
                                            : "\(receiver.streamID) already has a connection")
            return
        }
        firstPacketTimer?.cancel()
        firstPacketTimer = nil
        let channel = context.channel
        started.onEnd = { channel.close(promise: nil) }
        session = started
        started.receive(packet, size: frame.readableBytes + 2)
    }

    /// The frame decoder found how the device frames RTP: a quirk is worth one line.
    func framingDetected(_ framing: GBTCPFraming) {
        switch framing {
        case .rfc4571:
            break
        case .bare:
            logger.info("GB28181: TCP connection from \(remote) sends RTP without RFC 4571 length prefixes; cutting packets at RTP headers")
        case .interleaved:
            logger.info("GB28181: TCP connection from \(remote) sends RTP in RTSP-style interleaved frames ('$', channel, length)")
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        guard !closing else { return }
        closing = true
        if let session {
            session.end("bad input: \(reason)", warning: true)
        } else {
            logger.warning("GB28181: closing TCP connection from \(remote) on port \(context.localAddress?.port ?? 0): \(reason)")
        }
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is RTPError || error is ByteToMessageDecoderError || error is GBTCPFramingError {
            RelayMetrics.parseError(protocol: "gb28181")
            fail(context, "\(error)")
        } else {
            logger.debug("GB28181 TCP connection from \(remote): \(error)")
            closing = true
            session?.end("connection error: \(error)", dropped: true)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        firstPacketTimer?.cancel()
        firstPacketTimer = nil
        closing = true
        session?.end("connection closed", dropped: true)
        session = nil
        let cb = onClose
        onClose = nil
        cb?()
        context.fireChannelInactive()
    }
}
