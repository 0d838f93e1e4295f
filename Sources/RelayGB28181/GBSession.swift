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
final class GBSession {
    enum Phase { case new, authorizing, publishing, ended }

    let receiver: GBReceiver
    let loop: any EventLoop
    let remote: String
    let ssrc: UInt32
    private let service: GB28181Service
    private let context: RelayContext
    private var logger: Logger
    private var reorder: RTPReorderBuffer<RTPPacket>
    private var outputs: [RTPReorderBuffer<RTPPacket>.Output] = []
    private var demuxer = PSDemuxer()
    private var events: [PSEvent] = []
    private var source: Source?
    private(set) var phase = Phase.new
    private var lastTimestamp: UInt32?
    /// Transport cleanup (forget the SSRC, close the connection), run once when the session ends.
    var onEnd: (() -> Void)?

    /// Starts a session for `receiver` unless it is closed or already receiving.
    static func start(receiver: GBReceiver, ssrc: UInt32, loop: any EventLoop, remote: String,
                      service: GB28181Service, reorderWindow: Int) -> GBSession? {
        let session = GBSession(receiver: receiver, ssrc: ssrc, loop: loop, remote: remote, service: service,
                                reorderWindow: reorderWindow)
        let bound = NIOLoopBound(session, eventLoop: loop)
        let attached = receiver.attach(remote: remote) { reason in
            loop.submit { bound.value.end(reason) }
        }
        return attached ? session : nil
    }

    private init(receiver: GBReceiver, ssrc: UInt32, loop: any EventLoop, remote: String, service: GB28181Service,
                 reorderWindow: Int) {
        self.receiver = receiver
        self.ssrc = ssrc
        self.loop = loop
        self.remote = remote
        self.service = service
        self.context = service.context
        self.reorder = RTPReorderBuffer(window: reorderWindow)
        var logger = service.context.logger
        logger[metadataKey: "stream"] = "\(receiver.streamID)"
        logger[metadataKey: "ssrc"] = "\(GBSSRC.format(ssrc))"
        logger[metadataKey: "remote"] = "\(remote)"
        self.logger = logger
    }

    /// One RTP packet of this session's SSRC.
    func receive(_ packet: RTPPacket, size: Int) {
        guard phase != .ended else { return }
        receiver.count(bytes: size)
        switch phase {
        case .new:
            begin()
            guard phase == .publishing else { return }
        case .authorizing, .ended:
            return
        case .publishing:
            break
        }
        outputs.removeAll(keepingCapacity: true)
        reorder.push(packet, sequence: packet.sequence) { outputs.append($0) }
        do {
            for output in outputs {
                switch output {
                case .packet(let p):
                    try demux(p)
                case .loss(let count):
                    receiver.countLost(count)
                    if count > 0 { logger.debug("RTP loss: \(count) packet(s) missing; video resumes at the next key frame") }
                    demuxer.discontinuity()
                    lastTimestamp = nil
                }
                if phase == .ended { return }
            }
        } catch {
            RelayMetrics.parseError(protocol: "gb28181")
            end("bad input: \(error)", warning: true)
        }
    }

    private func demux(_ p: RTPPacket) throws {
        events.removeAll(keepingCapacity: true)
        if let last = lastTimestamp, last != p.timestamp {
            try demuxer.endOfFrame(into: &events)
        }
        lastTimestamp = p.timestamp
        try demuxer.feed(p.payload, arrival: Self.now90k(), into: &events)
        if p.marker { try demuxer.endOfFrame(into: &events) }
        guard !events.isEmpty, let source else { return }
        for event in events {
            if case .notice(let text) = event { logger.notice("\(text)") }
        }
        let batch = events
        source.assumeIsolated { source in
            for event in batch {
                switch event {
                case .tracks(let video, let audio): source.expectTracks(video: video, audio: audio)
                case .stream(let stream): source.updateStream(stream)
                case .packet(let packet): source.write(packet)
                case .notice: break
                }
            }
        }
    }

    // MARK: publish

    private var sessionInfo: SessionInfo {
        SessionInfo(sessionID: String(context.nextID()), protocolName: "gb28181", remoteAddress: remote,
                    params: ["ssrc": GBSSRC.format(ssrc), "mode": receiver.mode.rawValue])
    }

    /// The first packet: ask on_publish (when configured), then claim the stream id.
    private func begin() {
        let info = sessionInfo
        guard context.hasHook(.publish) else {
            register(info: info, decision: .notConfigured)
            return
        }
        phase = .authorizing
        let id = receiver.streamID
        let relay = context
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        Task {
            let decision = await relay.authorize(.publish, stream: id, session: info)
            loop.execute {
                let session = bound.value
                guard session.phase == .authorizing else { return }
                guard decision.allowed else {
                    session.end("publish denied: \(decision.reason)", warning: true)
                    return
                }
                session.register(info: info, decision: decision)
            }
        }
    }

    private func register(info: SessionInfo, decision: HookDecision) {
        let source = Source(id: receiver.streamID, eventLoop: loop, publisher: info, context: context)
        if let record = decision.record { source.assumeIsolated { $0.setRecording(record) } }
        do {
            try context.registry.register(source)
        } catch {
            end("refused: \(error)", warning: true)
            return
        }
        self.source = source
        phase = .publishing
        receiver.setPhase(.receiving)
        logger.info("GB28181 \(receiver.mode) publish of \(receiver.streamID) started")
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        source.assumeIsolated { src in
            src.whenClosed {
                loop.execute { bound.value.end("source closed") }
            }
        }
    }

    // MARK: end

    /// Ends the session (idempotent): closes the Source, cleans up the transport, tells the service.
    /// `dropped`: the device's connection was lost (not refused, not closed by us): its players may
    /// wait `publisher_grace_ms` for the device (or a new INVITE of the same stream) to come back.
    func end(_ reason: String, warning: Bool = false, dropped: Bool = false) {
        guard phase != .ended else { return }
        phase = .ended
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

    /// Receive time in 90 kHz ticks of the monotonic clock.
    static func now90k() -> Int64 {
        Int64(NIODeadline.now().uptimeNanoseconds / 1000) * 9 / 100
    }
}
