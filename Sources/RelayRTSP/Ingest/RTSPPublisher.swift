import Logging
import NIOCore
import RelayCore
import RelayRTP

/// One RTSP publisher (ANNOUNCE → SETUP mode=record → RECORD): the announced tracks, how each
/// was set up (interleaved channels or a UDP port pair), and once admitted the Source its
/// RTP feeds through `RTPTrackIngest`. Confined to the connection's event loop (its UDP
/// sockets are bound there too, as is the Source's executor).
final class RTSPPublisher {
    /// An m= section of the announce: its control and, if we ingest it, its track.
    struct Media {
        let control: String?
        let track: RTPIngestTrack?
    }

    struct Setup {
        let media: Int
        let transport: RTSPTransport
        let udp: UDPSocketPair?
        /// The publisher's RTCP address (UDP), where receiver reports go.
        let peerRTCP: SocketAddress?
    }

    enum State { case announced, admitting, recording, ended }

    let id: String
    let streamID: String
    let params: [String: String]
    let announceURL: String
    let media: [Media]
    let tracks: [RTPIngestTrack]
    private(set) var setups: [Setup] = []
    var state = State.announced
    private(set) var source: Source?
    /// Made when recording starts: over UDP it holds packets back to reorder them.
    private(set) var ingest: RTPTrackIngest?
    private let logger: Logger
    private var timer: RepeatedTask?
    private var lastReport = NIODeadline.now()
    /// What the ingest made of one packet or tick; reused, so a frame allocates no array.
    private var events: [MediaEvent] = []
    private let ourSSRC = UInt32.random(in: 1...UInt32.max)
    private var loggedChannel = false

    /// Receiver reports go out this often on UDP (RFC 3550's 5 s minimum interval).
    static let reportInterval = TimeAmount.seconds(5)

    init(id: String, streamID: String, params: [String: String], announceURL: String, sdp: SessionDescription,
         tracks: [RTPIngestTrack], logger: Logger) {
        self.id = id
        self.streamID = streamID
        self.params = params
        self.announceURL = announceURL
        self.tracks = tracks
        self.logger = logger
        var unassigned = tracks
        media = sdp.media.map { section in
            let control = section.attribute("control")
            let video = section.kind.lowercased() == "video"
            guard let at = unassigned.firstIndex(where: { $0.control == control && $0.codec.isVideo == video }) else {
                return Media(control: control, track: nil)
            }
            return Media(control: control, track: unassigned.remove(at: at))
        }
    }

    var isTCP: Bool? { setups.first.map { $0.transport.isTCP } }

    /// The m= section a SETUP URL names: its control resolved against the ANNOUNCE URL, compared
    /// by path (a client may name the host differently than it did in ANNOUNCE).
    func mediaIndex(forSetupURL uri: String) -> Int? {
        let wanted = Self.path(uri)
        if let exact = media.indices.first(where: { Self.path(controlURL(media[$0])) == wanted }) { return exact }
        return media.count == 1 && wanted == Self.path(announceURL) ? 0 : nil
    }

    func controlURL(_ media: Media) -> String {
        let probe = RTPIngestTrack(streamIndex: 0, payloadType: 0, codec: .h264, clockRate: 1, channels: 1,
                                   control: media.control, stream: nil)
        return (media.track ?? probe).controlURL(base: announceURL)
    }

    /// `rtsp://host:port/a/b/` → `a/b` (no trailing slash, no query).
    static func path(_ uri: String) -> Substring {
        var rest = Substring(uri)
        if let sep = rest.range(of: "://") {
            rest = rest[sep.upperBound...]
            rest = rest[(rest.firstIndex(of: "/") ?? rest.endIndex)...]
        }
        if let q = rest.firstIndex(of: "?") { rest = rest[..<q] }
        while rest.hasPrefix("/") { rest = rest.dropFirst() }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        return rest
    }

    /// Adds (or replaces) the transport of one m= section.
    func add(_ setup: Setup) -> UDPSocketPair? {
        var replaced: UDPSocketPair?
        if let i = setups.firstIndex(where: { $0.media == setup.media }) {
            replaced = setups[i].udp
            setups.remove(at: i)
        }
        setups.append(setup)
        return replaced
    }

    func usesChannel(_ channel: UInt8) -> Bool {
        setups.contains { if case .tcp(let rtp, let rtcp) = $0.transport { return rtp == channel || rtcp == channel } else { return false } }
    }

    // MARK: recording

    /// Admitted: the tracks go to `source`; UDP gets its reorder hold, receiver reports and timer.
    func startRecording(_ source: Source, on loop: any EventLoop) {
        self.source = source
        state = .recording
        let udp = isTCP == false
        let ingest = RTPTrackIngest(tracks: tracks, reorder: udp, logger: logger)
        self.ingest = ingest
        events.removeAll(keepingCapacity: true)
        ingest.start { events.append($0) }
        applyEvents()
        guard udp else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in
            bound.value.tick()
        }
    }

    /// One interleaved frame; false when its channel was never set up.
    func interleaved(channel: UInt8, payload: ByteBuffer) -> Bool {
        for setup in setups {
            guard case .tcp(let rtp, let rtcp) = setup.transport, rtp == channel || rtcp == channel else { continue }
            guard let ingest, let track = media[setup.media].track else { return true }
            if channel == rtp {
                deliver(rtp: payload, track: track.streamIndex)
            } else {
                ingest.receive(rtcp: payload, streamIndex: track.streamIndex, now: RTPTrackIngest.nowNanos())
            }
            return true
        }
        return false
    }

    /// A datagram on the UDP pair of m= section `media` (the sender was checked).
    func datagram(_ payload: ByteBuffer, rtcp: Bool, media index: Int) {
        guard let ingest, media.indices.contains(index), let track = media[index].track else { return }
        if rtcp {
            ingest.receive(rtcp: payload, streamIndex: track.streamIndex, now: RTPTrackIngest.nowNanos())
        } else {
            deliver(rtp: payload, track: track.streamIndex)
        }
    }

    private func deliver(rtp: ByteBuffer, track: Int) {
        guard let source, let ingest else { return }
        events.removeAll(keepingCapacity: true)
        ingest.receive(rtp: rtp, streamIndex: track, now: RTPTrackIngest.nowNanos()) { event in
            if case .notice(let text) = event { logger.info("RTSP publisher of \(source.id): \(text)") }
            events.append(event)
        }
        applyEvents()
    }

    /// Hands the ingest's events to the Source (on its loop, which is this connection's).
    private func applyEvents() {
        guard let source, !events.isEmpty else { return }
        source.assumeIsolated { [events] source in
            for event in events { source.receive(event) }
        }
    }

    private func tick() {
        guard let ingest else { return }
        events.removeAll(keepingCapacity: true)
        ingest.tick(now: RTPTrackIngest.nowNanos()) { events.append($0) }
        applyEvents()
        let now = NIODeadline.now()
        guard now - lastReport >= Self.reportInterval else { return }
        lastReport = now
        sendReceiverReports()
    }

    /// One RR per UDP track, to the publisher's RTCP port, with that track's block.
    private func sendReceiverReports() {
        guard let ingest else { return }
        let blocks = ingest.receiverReportBlocks()
        for setup in setups {
            guard let udp = setup.udp, let peer = setup.peerRTCP, let track = media[setup.media].track,
                  let ssrc = ingest.ssrc(of: track.streamIndex) else { continue }
            var out = udp.rtcp.allocator.buffer(capacity: 64)
            RTCP.writeReceiverReport(ssrc: ourSSRC, blocks: blocks.filter { $0.ssrc == ssrc }, into: &out)
            udp.rtcp.writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: out), promise: nil)
        }
    }

    /// Logged once per session: data on an interleaved channel no SETUP named.
    func unknownChannel(_ channel: UInt8, remote: String) {
        guard !loggedChannel else { return }
        loggedChannel = true
        logger.warning("RTSP publisher \(remote): dropping interleaved data on channel \(channel), which no SETUP named")
    }

    /// Ends the session: its UDP ports go back; the Source ends cleanly (`dropped` false: TEARDOWN)
    /// or waits for the publisher to come back (`dropped`: the connection was lost).
    func end(ports: UDPPortAllocator, reason: String, dropped: Bool) {
        guard state != .ended else { return }
        let wasAdmitting = state == .admitting
        state = .ended
        timer?.cancel()
        timer = nil
        for setup in setups {
            guard let udp = setup.udp else { continue }
            udp.close()
            ports.release(udp.port)
        }
        setups.removeAll()
        guard !wasAdmitting, let source else { return }
        self.source = nil
        logger.info("RTSP publish ended", metadata: ["stream": "\(source.id)", "reason": "\(reason)",
                                                      "packets": "\(ingest?.packets ?? 0)", "dropped": "\(ingest?.dropped ?? 0)"])
        source.assumeIsolated { source in
            if dropped {
                source.publisherLeft(reason: "RTSP: \(reason)")
            } else {
                source.close(reason: "RTSP: \(reason)")
            }
        }
    }
}
