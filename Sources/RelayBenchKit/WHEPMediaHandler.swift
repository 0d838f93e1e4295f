import NIOConcurrencyHelpers
import NIOCore
import RelayRTP
import RelayWebRTC

/// Counters of a WHEP viewer's transport, beside its `PlayerStats`.
public struct WHEPTransportStats: Sendable {
    /// NACK packets sent and the sequence numbers they asked for.
    public var nacksSent = 0
    public var nackedPackets = 0
    public var receiverReports = 0
    /// SRTP/SRTCP packets dropped: failed authentication, or replays (a NACKed packet that came twice).
    public var srtpDropped = 0
    /// Video frames the depacketizer dropped (a packet of theirs never came) and sequence gaps it saw.
    public var droppedFrames: UInt64 = 0
    public var sequenceGaps: UInt64 = 0
    /// `--drop-video-percent`: video packets thrown away on arrival (as a lossy network would), and
    /// those that came again (the relay's NACK retransmissions) and were taken.
    public var injectedLosses = 0
    public var retransmissionsReceived = 0
}

/// What the media handler needs of the signalling.
struct WHEPSessionParameters: Sendable {
    var server: SocketAddress
    var local: ICECredentials
    var remote: ICECredentials
    var remoteFingerprint: String
    var certificate: DTLSCertificate
    var videoPayloadType: UInt8?
    var audioPayloadType: UInt8?
    var measureLatency: Bool
    /// Video packets dropped on arrival, in percent (0: none): a lossy link for the NACK path.
    var dropVideoPercent: Int = 0
}

/// One WHEP viewer's UDP socket, as a browser drives it against an ICE-lite server: STUN checks
/// (USE-CANDIDATE) every 50 ms until answered, then one every 2.5 s for consent (RFC 7675); the
/// DTLS client handshake (RFC 5764) once ICE succeeded; then SRTP in, decrypted in one reused
/// buffer, to `WHEPMediaReceiver`; NACKs for video gaps and a receiver report every second out.
/// Datagrams are told apart by their first byte (RFC 7983).
final class WHEPMediaHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    static let checkInterval = TimeAmount.milliseconds(50)
    static let iceTimeout = TimeAmount.seconds(5)
    static let consentInterval = TimeAmount.milliseconds(2500)
    static let reportInterval = TimeAmount.seconds(1)
    static let nackInterval = TimeAmount.milliseconds(20)

    private let session: WHEPSessionParameters
    private let stats: NIOLockedValueBox<PlayerStats>
    private let transport: NIOLockedValueBox<WHEPTransportStats>
    private var media: WHEPMediaReceiver
    private var dtls: DTLSEndpoint?
    private var srtp: SRTPSession?
    /// Where each SRTP packet is decrypted: one buffer, reused (the received one is shared with
    /// NIO's read buffer, so decrypting it in place would copy it anyway).
    private var scratch = ByteBuffer()
    private var transaction: [UInt8] = []
    private var request: ByteBuffer?
    private var iceConnected = false
    private let started = NIODeadline.now()
    private let tieBreaker = UInt64.random(in: .min ... .max)
    private let ssrc = UInt32.random(in: 1 ... .max)
    /// Sequence numbers of video packets dropped on purpose, until they come again.
    private var dropped: Set<UInt16> = []
    private var lossState: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var checkTimer: Scheduled<Void>?
    private var dtlsTimer: Scheduled<Void>?
    private var reportTimer: Scheduled<Void>?
    private var nackTimer: Scheduled<Void>?

    init(session: WHEPSessionParameters, stats: NIOLockedValueBox<PlayerStats>,
         transport: NIOLockedValueBox<WHEPTransportStats>) {
        self.session = session
        self.stats = stats
        self.transport = transport
        media = WHEPMediaReceiver(videoPayloadType: session.videoPayloadType, audioPayloadType: session.audioPayloadType,
                                  measureLatency: session.measureLatency)
    }

    func channelActive(context: ChannelHandlerContext) {
        scratch = context.channel.allocator.buffer(capacity: 2048)
        check(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        for timer in [checkTimer, dtlsTimer, reportTimer, nackTimer] { timer?.cancel() }
        media.flush(into: stats)
        stats.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, "UDP: \(error)")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let datagram = envelope.data
        media.count(bytes: datagram.readableBytes)
        guard let first = datagram.getInteger(at: datagram.readerIndex, as: UInt8.self) else { return }
        switch first {
        case 128...191: srtpPacket(datagram, context)
        case 20...63: dtlsDatagram(datagram, context)
        case 0...3: stunAnswer(datagram, context)
        default: break
        }
    }

    // MARK: ICE

    /// A binding request: until ICE succeeds the same one again (RFC 5389 7.2.1: a retransmission
    /// keeps its transaction, so a late answer still counts), then a fresh one per consent check;
    /// the next one scheduled.
    private func check(_ context: ChannelHandlerContext) {
        if !iceConnected, NIODeadline.now() - started > Self.iceTimeout {
            return fail(context, "ICE: no answer to STUN checks in \(Self.iceTimeout.nanoseconds / 1_000_000_000) s")
        }
        if iceConnected || request == nil {
            transaction = (0..<12).map { _ in UInt8.random(in: .min ... .max) }
            request = STUN.bindingRequest(transactionID: transaction, username: "\(session.remote.ufrag):\(session.local.ufrag)",
                                          password: session.remote.password, priority: 0x6E00_1EFF,
                                          tieBreaker: tieBreaker, useCandidate: true)
        }
        if let request { send(request, context) }
        checkTimer = context.eventLoop.assumeIsolated().scheduleTask(in: iceConnected ? Self.consentInterval : Self.checkInterval) {
            [self] in check(context)
        }
    }

    private func stunAnswer(_ datagram: ByteBuffer, _ context: ChannelHandlerContext) {
        guard STUNMessage.isSTUN(datagram), let message = try? STUNMessage(parsing: datagram),
              message.messageClass == .success, message.transactionID == transaction,
              message.verifyIntegrity(password: session.remote.password) else { return }
        guard !iceConnected else { return }
        iceConnected = true
        stats.withLockedValue { $0.milestones.append(("ICE", .now())) }
        checkTimer?.cancel()
        checkTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.consentInterval) { [self] in check(context) }
        do {
            let endpoint = try DTLSEndpoint(role: .client, certificate: session.certificate,
                                            remoteFingerprint: session.remoteFingerprint)
            dtls = endpoint
            handle(endpoint.start(), context)
        } catch {
            fail(context, "DTLS: \(error)")
        }
    }

    // MARK: DTLS

    private func dtlsDatagram(_ datagram: ByteBuffer, _ context: ChannelHandlerContext) {
        guard let dtls else { return }
        handle(dtls.receive(datagram), context)
    }

    private func handle(_ output: DTLSOutput, _ context: ChannelHandlerContext) {
        for datagram in output.datagrams { send(datagram, context) }
        if let keys = output.keys {
            do {
                srtp = try SRTPSession(keys: keys)
            } catch {
                return fail(context, "SRTP: \(error)")
            }
            stats.withLockedValue { $0.milestones.append(("DTLS", .now())) }
            scheduleReport(context)
        }
        if let why = output.closed {
            // The server ending a session that played is the end of the stream, not an error.
            return srtp == nil ? fail(context, "DTLS: \(why)") : context.close(promise: nil)
        }
        dtlsTimer?.cancel()
        dtlsTimer = nil
        if let endpoint = dtls, !endpoint.isConnected, let wait = endpoint.retransmitIn {
            dtlsTimer = context.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
                dtlsTimer = nil
                handle(endpoint.handleTimeout(), context)
            }
        }
    }

    // MARK: SRTP

    private func srtpPacket(_ datagram: ByteBuffer, _ context: ChannelHandlerContext) {
        guard let srtp else { return }
        if session.dropVideoPercent > 0, !injectLoss(datagram) { return }
        var datagram = datagram
        scratch.clear()
        scratch.writeBuffer(&datagram)
        let second = scratch.getInteger(at: scratch.readerIndex + 1, as: UInt8.self) ?? 0
        if (192...223).contains(second) {
            // Sender reports: nothing here needs them beyond decrypting.
            if !srtp.unprotectRTCP(&scratch) { transport.withLockedValue { $0.srtpDropped += 1 } }
            return
        }
        guard srtp.unprotectRTP(&scratch) else {
            transport.withLockedValue { $0.srtpDropped += 1 }
            return
        }
        guard let packet = try? RTPPacket(parsing: scratch) else { return }
        if !media.sawRTP { stats.withLockedValue { $0.milestones.append(("first RTP", .now())) } }
        let now = Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds)
        media.receive(packet, now: now, stats: stats)
        sendNACKs(now: now, context)
    }

    /// False: drop this datagram (a video packet picked by the seeded loss). The RTP header is
    /// clear text under SRTP, so the choice is made before decrypting: a packet dropped here was
    /// never seen by SRTP's replay check, and its retransmission is taken (and counted).
    private func injectLoss(_ datagram: ByteBuffer) -> Bool {
        let at = datagram.readerIndex
        guard let type = datagram.getInteger(at: at + 1, as: UInt8.self), type & 0x7F == session.videoPayloadType,
              let sequence = datagram.getInteger(at: at + 2, as: UInt16.self) else { return true }
        if dropped.remove(sequence) != nil {
            transport.withLockedValue { $0.retransmissionsReceived += 1 }
            return true
        }
        lossState ^= lossState << 13
        lossState ^= lossState >> 7
        lossState ^= lossState << 17
        guard Int(lossState % 100) < session.dropVideoPercent, dropped.count < 4096 else { return true }
        dropped.insert(sequence)
        transport.withLockedValue { $0.injectedLosses += 1 }
        return false
    }

    /// NACKs what is due, and keeps a timer for retries while something is missing.
    private func sendNACKs(now: Int64, _ context: ChannelHandlerContext) {
        let lost = media.lostVideoPackets(now: now)
        if !lost.isEmpty, let video = media.videoSSRC {
            var out = context.channel.allocator.buffer(capacity: 64 + 4 * lost.count + SRTPSession.maxOverhead)
            RTCP.writeNACK(sender: ssrc, media: video, sequences: lost, into: &out)
            if sendRTCP(&out, context) {
                transport.withLockedValue {
                    $0.nacksSent += 1
                    $0.nackedPackets += lost.count
                }
            }
        }
        if media.hasMissingVideo, nackTimer == nil {
            nackTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.nackInterval) { [self] in
                nackTimer = nil
                sendNACKs(now: Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds), context)
            }
        }
    }

    private func scheduleReport(_ context: ChannelHandlerContext) {
        reportTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.reportInterval) { [self] in
            media.flush(into: stats)
            let blocks = media.reportBlocks
            if !blocks.isEmpty {
                var out = context.channel.allocator.buffer(capacity: 64 + 24 * blocks.count + SRTPSession.maxOverhead)
                RTCP.writeReceiverReport(ssrc: ssrc, blocks: blocks, into: &out)
                if sendRTCP(&out, context) { transport.withLockedValue { $0.receiverReports += 1 } }
            }
            let depacketizer = media.depacketizerStats
            transport.withLockedValue {
                $0.droppedFrames = depacketizer.droppedAccessUnits
                $0.sequenceGaps = depacketizer.sequenceGaps
            }
            scheduleReport(context)
        }
    }

    // MARK: sending

    private func sendRTCP(_ packet: inout ByteBuffer, _ context: ChannelHandlerContext) -> Bool {
        guard let srtp, srtp.protectRTCP(&packet) else { return false }
        send(packet, context)
        return true
    }

    private func send(_ datagram: ByteBuffer, _ context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: session.server, data: datagram)), promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext, _ message: String) {
        stats.fail(context, message)
    }
}
