import Logging
import NIOCore
import RelayCore
import RelayRTP

/// One stretch of media of a receiver: RTP (reordered when over UDP) → PS demuxer → Source.
///
/// Confined to the event loop of the socket that carries it (the Source's executor is that loop,
/// so packets are handed over synchronously). Ends — closing its Source — on bad input, when the
/// Source closes (receive timeout, operator), when its TCP connection closes, or when the
/// receiver is closed; one session's end never touches another.
///
/// Over UDP the session is pinned to the source address of its first packet (`admits`), and a
/// malformed packet costs only that packet or frame: the PS parser resynchronises at the next
/// pack header and video resumes at the next key frame. Over TCP bad input ends the session
/// (the connection is the stream).
final class GBSession {
    enum Phase { case new, admitting, publishing, ended }

    let receiver: GBReceiver
    let loop: any EventLoop
    private(set) var remote: String
    /// Changes only when the device's SSRC changes on its own port or connection (`follow`).
    private(set) var ssrc: UInt32
    private let service: GB28181Service
    private let context: RelayContext
    private var logger: Logger
    private var reorder: RTPReorderBuffer<RTPPacket>
    private var outputs: [RTPReorderBuffer<RTPPacket>.Output] = []
    /// Gives up a gap when its time is up even if no further packet comes.
    private var expiry: (at: Int64, task: Scheduled<Void>)?
    /// Packets in order while publish admission decides (bounded); they go out once it allows,
    /// so an on_publish hook's latency does not cost the first key frame.
    private var admitting: [RTPReorderBuffer<RTPPacket>.Output] = []
    private var admittingBytes = 0
    private var demuxer: PSDemuxer
    private var counters = GBReceiverCounters()
    private var events: [MediaEvent] = []
    private var source: Source?
    private(set) var phase = Phase.new
    private var lastTimestamp: UInt32?
    /// UDP: the address the stream is pinned to, and when it last sent a packet.
    private var pinned: SocketAddress?
    private var pinnedHeard = NIODeadline.now()
    private let repinAfter: TimeAmount
    /// SSRC changes followed: resyncs the reorder buffer does not see.
    private var ssrcChanges: UInt64 = 0
    private var former: (ssrc: UInt32, until: NIODeadline)?
    private var foreignLog = RateLimitedLog()
    private var malformedLog = RateLimitedLog()
    /// A device flipping SSRCs or sequence numbers at packet rate must not flood the log.
    private var followLog = RateLimitedLog()
    private var restartLog = RateLimitedLog()
    /// Transport cleanup (forget the SSRC, close the connection), run once when the session ends.
    var onEnd: (() -> Void)?

    /// Starts a session for `receiver` unless it is closed or already receiving.
    /// `pinnedTo`: UDP, the source address of the first packet (TCP sessions are their connection).
    static func start(receiver: GBReceiver, ssrc: UInt32, loop: any EventLoop, remote: String,
                      service: GB28181Service, pinnedTo: SocketAddress? = nil) -> GBSession? {
        let session = GBSession(receiver: receiver, ssrc: ssrc, loop: loop, remote: remote, service: service,
                                pinnedTo: pinnedTo)
        let bound = NIOLoopBound(session, eventLoop: loop)
        let attached = receiver.attach(remote: remote) { reason in
            loop.submit { bound.value.end(reason) }
        }
        return attached ? session : nil
    }

    private init(receiver: GBReceiver, ssrc: UInt32, loop: any EventLoop, remote: String, service: GB28181Service,
                 pinnedTo: SocketAddress?) {
        self.pinned = pinnedTo
        self.repinAfter = .milliseconds(Int64(service.config.repinAfterMs))
        self.receiver = receiver
        self.ssrc = ssrc
        self.loop = loop
        self.remote = remote
        self.service = service
        self.context = service.context
        self.reorder = service.reorderBuffer(for: receiver.mode)
        self.demuxer = PSDemuxer(options: PSDemuxer.Options(lossPolicy: service.config.lossPolicy))
        var logger = service.context.logger
        logger[metadataKey: "stream"] = "\(receiver.streamID)"
        logger[metadataKey: "ssrc"] = "\(GBSSRC.format(ssrc))"
        logger[metadataKey: "remote"] = "\(remote)"
        self.logger = logger
    }

    /// UDP: whether a packet from `address` belongs to this stream. The pinned address always
    /// does; another one only once the pinned one has been silent for `gb28181.repin_after_ms`
    /// (then the stream moves there, as after a loss). Anything else is a foreign packet:
    /// counted, logged (rate-limited) and dropped before it reaches the demuxer.
    func admits(from address: SocketAddress, now: NIODeadline = .now()) -> Bool {
        guard phase != .ended else { return false }
        guard let pinned, pinned != address else {
            pinnedHeard = now
            return true
        }
        let silent = now - pinnedHeard
        if silent >= repinAfter {
            let to = address.displayString
            logger.warning("GB28181 stream \(receiver.streamID) moves from \(pinned.displayString) to \(to): nothing from the pinned address for \(silent.nanoseconds / 1_000_000) ms")
            self.pinned = address
            pinnedHeard = now
            remote = to
            logger[metadataKey: "remote"] = "\(to)"
            reorder.reset()
            demuxer.discontinuity()
            lastTimestamp = nil
            receiver.repinned(to: to)
            return true
        }
        let total = receiver.countForeign()
        if let more = foreignLog.shouldLog(now: now) {
            logger.warning("GB28181: dropping RTP with SSRC \(GBSSRC.format(ssrc)) from \(address.displayString): stream \(receiver.streamID) is pinned to \(pinned.displayString) (\(total) foreign packet(s) so far)\(suppressed(more))")
        }
        return false
    }

    /// UDP: whether the stream is pinned to `address` (a new SSRC from there is this device's).
    func isPinned(to address: SocketAddress) -> Bool {
        phase != .ended && pinned == address
    }

    /// UDP: a late packet of the SSRC just left (reordered around the change) is dropped, not
    /// followed back.
    func justLeft(_ ssrc: UInt32, now: NIODeadline = .now()) -> Bool {
        guard let former, former.ssrc == ssrc else { return false }
        return now < former.until
    }

    /// The device changed its SSRC on its own port or connection (a firmware quirk, a re-INVITE
    /// without a new port): the stream goes on under the new one, as after a restart. What was
    /// held of the old SSRC goes out first; the Source and its players stay.
    func follow(ssrc new: UInt32) {
        guard phase != .ended, new != ssrc else { return }
        if let more = followLog.shouldLog() {
            logger.info("GB28181 stream \(receiver.streamID) from \(remote): SSRC changed from \(GBSSRC.format(ssrc)) to \(GBSSRC.format(new)); following it\(suppressed(more))")
        }
        outputs.removeAll(keepingCapacity: true)
        reorder.flush { outputs.append($0) }
        handleOutputs()
        guard phase != .ended else { return }
        former = (ssrc, NIODeadline.now() + .seconds(1))
        ssrc = new
        logger[metadataKey: "ssrc"] = "\(GBSSRC.format(new))"
        reorder.reset()
        demuxer.discontinuity()
        lastTimestamp = nil
        ssrcChanges &+= 1
        publishCounters()
    }

    /// One RTP packet of this session's SSRC.
    func receive(_ packet: RTPPacket, size: Int) {
        guard phase != .ended else { return }
        counters.packets &+= 1
        counters.bytes &+= UInt64(clamping: size)
        if phase == .new {
            begin()
            guard phase != .ended else { return }
        }
        var packet = packet
        if phase == .admitting || (reorder.window > 0 && reorder.nextSequence != packet.sequence) {
            // It may be held back: keep its own bytes, not the whole 64 KiB receive buffer its
            // payload is a slice of (what is held is then what the bounds say).
            var own = ByteBufferAllocator().buffer(capacity: packet.payload.readableBytes)
            own.writeImmutableBuffer(packet.payload)
            packet.payload = own
        }
        outputs.removeAll(keepingCapacity: true)
        reorder.push(packet, sequence: packet.sequence, now: Self.nowNanos(), bytes: packet.payload.readableBytes) {
            outputs.append($0)
        }
        handleOutputs()
    }

    /// The reorder buffer's time is up for a gap (or for the start to settle).
    private func expire() {
        expiry = nil
        guard phase != .ended else { return }
        outputs.removeAll(keepingCapacity: true)
        reorder.expire(now: Self.nowNanos()) { outputs.append($0) }
        handleOutputs()
    }

    private func handleOutputs() {
        switch phase {
        case .admitting:
            hold(outputs)
        case .publishing:
            process(outputs)
        case .new, .ended:
            break
        }
        guard phase != .ended else { return }
        armExpiry()
        publishCounters()
    }

    private func process(_ outputs: [RTPReorderBuffer<RTPPacket>.Output]) {
        for output in outputs {
            switch output {
            case .packet(let p):
                do {
                    try demux(p)
                } catch {
                    malformed(error)
                }
            case .loss(let count) where count > 0:
                logger.debug("RTP loss: \(count) packet(s) missing; dropping the frame they belonged to")
                events.removeAll(keepingCapacity: true)
                demuxer.loss(into: &events)
                forward()
                lastTimestamp = nil
            case .loss:
                if let more = restartLog.shouldLog() {
                    logger.info("RTP sequence of \(receiver.streamID) restarted (device restart?); video resumes at the next key frame\(suppressed(more))")
                }
                demuxer.discontinuity()
                lastTimestamp = nil
            }
            if phase == .ended { return }
        }
    }

    /// While admission decides: keep what comes, in order, up to a bound (then the rest counts
    /// as a gap: video starts at a later frame).
    private func hold(_ outputs: [RTPReorderBuffer<RTPPacket>.Output]) {
        for output in outputs {
            if case .packet(let p) = output {
                admittingBytes &+= p.payload.readableBytes
                if admittingBytes > Self.maxAdmittingBytes || admitting.count >= Self.maxAdmittingPackets {
                    if case .loss? = admitting.last {} else { admitting.append(.loss(count: 1)) }
                    continue
                }
            }
            admitting.append(output)
        }
    }

    static let maxAdmittingBytes = 4 << 20
    static let maxAdmittingPackets = 4096

    private func armExpiry() {
        guard let due = reorder.deadline else {
            expiry?.task.cancel()
            expiry = nil
            return
        }
        if let expiry, expiry.at == due { return }
        expiry?.task.cancel()
        let bound = NIOLoopBound(self, eventLoop: loop)
        let task = loop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(UInt64(clamping: due))) { bound.value.expire() }
        expiry = (due, task)
    }

    /// The receiver's view of this session (admin API, metrics).
    private func publishCounters() {
        let r = reorder.stats
        counters.lost = r.lost
        counters.late = r.late
        counters.duplicates = r.duplicates
        counters.reordered = r.reordered
        counters.resyncs = r.resyncs &+ ssrcChanges
        let d = demuxer.stats
        counters.videoFrames = d.videoFrames
        counters.audioFrames = d.audioFrames
        counters.framesDropped = d.droppedFrames &+ demuxer.damagedFrames
        receiver.update(counters)
    }

    /// The demuxer refused the stream's data. UDP: drop it (the parser seeks the next pack
    /// header, video waits for a key frame), count it, log it rate-limited; the stream goes on.
    /// TCP: the connection carries nothing else, so the session ends.
    private func malformed(_ error: any Error) {
        RelayMetrics.parseError(protocol: "gb28181")
        guard receiver.mode == .udp else {
            end("bad input: \(error)", warning: true)
            return
        }
        demuxer.discontinuity()
        lastTimestamp = nil
        // Logged before it is counted: whoever sees the count can find the line.
        if let more = malformedLog.shouldLog() {
            logger.warning("GB28181: dropping malformed program stream data of \(receiver.streamID) from \(remote): \(error); resynchronising at the next pack header\(suppressed(more))")
        }
        receiver.countMalformed()
    }

    private func demux(_ p: RTPPacket) throws {
        events.removeAll(keepingCapacity: true)
        // What was demuxed before an error still goes out.
        defer { forward() }
        if let last = lastTimestamp, last != p.timestamp {
            try demuxer.endOfFrame(into: &events)
        }
        lastTimestamp = p.timestamp
        try demuxer.feed(p.payload, arrival: Self.now90k(), into: &events)
        if p.marker { try demuxer.endOfFrame(into: &events) }
    }

    private func forward() {
        guard !events.isEmpty, let source else { return }
        for case .notice(let text) in events { logger.notice("\(text)") }
        let batch = events
        source.assumeIsolated { source in
            for event in batch { source.receive(event) }
        }
    }

    // MARK: publish

    private var sessionInfo: SessionInfo {
        SessionInfo(sessionID: String(context.nextID()), protocolName: "gb28181", remoteAddress: remote,
                    params: ["ssrc": GBSSRC.format(ssrc), "mode": receiver.mode.rawValue])
    }

    /// The first packet: admission (on_publish, duplicate policy, limits) claims the stream id;
    /// packets arriving meanwhile are dropped (video starts at a key frame anyway).
    private func begin() {
        phase = .admitting
        let bound = NIOLoopBound(self, eventLoop: loop)
        context.admitPublisher(PublishRequest(streamID: receiver.streamID, session: sessionInfo), on: loop) { result in
            let session = bound.value
            guard session.phase == .admitting else {
                if case .success(let source) = result { source.assumeIsolated { $0.close(reason: "GB28181: session ended during admission") } }
                return
            }
            switch result {
            case .success(let source): session.startPublishing(source)
            case .failure(.denied(let reason)): session.end("publish denied: \(reason)", warning: true)
            case .failure(let refusal): session.end("refused: \(refusal)", warning: true)
            }
        }
    }

    private func startPublishing(_ source: Source) {
        self.source = source
        phase = .publishing
        receiver.setPhase(.receiving)
        // on_publish may have renamed the stream: the platform then names the receiver by either.
        let renamed = source.id == receiver.streamID ? nil : source.id
        receiver.setPublishedAs(renamed)
        logger.info("GB28181 \(receiver.mode) publish of \(receiver.streamID)\(renamed.map { " as " + $0 } ?? "") started")
        // The platform may pause the no-media checks (a paused playback) now or later.
        let pauser = NIOLoopBound(self, eventLoop: loop)
        let sessionLoop = loop
        let paused = receiver.sessionPublishing { paused in
            sessionLoop.execute { pauser.value.pauseReceiveTimeout(paused) }
        }
        if paused { pauseReceiveTimeout(true) }
        let held = admitting
        admitting = []
        admittingBytes = 0
        process(held)
        guard phase == .publishing else { return }
        publishCounters()
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        source.assumeIsolated { src in
            src.whenClosed {
                loop.execute { bound.value.end("source closed") }
            }
        }
    }

    /// On `loop`, the Source's executor.
    private func pauseReceiveTimeout(_ paused: Bool) {
        guard phase == .publishing, let source else { return }
        source.assumeIsolated { $0.pauseReceiveTimeout(paused) }
    }

    // MARK: end

    /// Ends the session (idempotent): closes the Source, cleans up the transport, tells the service.
    /// `dropped`: the device's connection was lost (not refused, not closed by us): its players may
    /// wait `publisher_grace_ms` for the device (or a new INVITE of the same stream) to come back.
    func end(_ reason: String, warning: Bool = false, dropped: Bool = false) {
        guard phase != .ended else { return }
        publishCounters()
        phase = .ended
        expiry?.task.cancel()
        expiry = nil
        admitting = []
        if warning {
            logger.warning("closing GB28181 stream \(receiver.streamID) from \(remote): \(reason)")
        } else {
            logger.info("GB28181 stream \(receiver.streamID) from \(remote) ended: \(reason)")
        }
        if let source {
            self.source = nil
            if dropped {
                source.assumeIsolated { $0.publisherLeft(reason: "GB28181: \(reason)") }
            } else {
                source.assumeIsolated { $0.close(reason: "GB28181: \(reason)") }
            }
        }
        let cleanup = onEnd
        onEnd = nil
        cleanup?()
        service.sessionEnded(receiver)
    }

    static func nowNanos() -> Int64 { Int64(clamping: NIODeadline.now().uptimeNanoseconds) }

    /// Receive time in 90 kHz ticks of the monotonic clock.
    static func now90k() -> Int64 {
        Int64(clamping: NIODeadline.now().uptimeNanoseconds / 1000) &* 9 / 100
    }
}
