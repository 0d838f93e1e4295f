import Logging
import NIOCore
import RelayCore
import RelayRTP

/// One WHEP viewer: a player of the stream's `.webrtc(layout)` TransStream, whose RTP packets
/// are muxed once for every viewer. Per viewer, each packet is copied once into the buffer SRTP
/// encrypts in place (keys differ per viewer), with its header rewritten on the way: the payload
/// type the browser chose, the viewer's SSRC and its own continuous sequence numbers (so skipped
/// segments or a re-sent GOP never look like loss), and during a catch-up burst the timestamp.
///
/// The first frame comes from the GOP cache: its video frames are sent at once with timestamps
/// packed just below the newest one's, so the browser decodes them without delay and plays from
/// the live edge (the cached audio, already past, is skipped). NACKs are answered from the
/// packet history; a PLI or FIR goes to the publisher when it can make a key frame (WHIP), else
/// the viewer's last GOP is sent again the same way. All calls arrive on the port's loop.
final class WebRTCPlayer: InspectableSink, WebRTCMedia, @unchecked Sendable {
    struct Track {
        let rtp: UInt8
        let rtcp: UInt8
        let payloadType: UInt8
        let ssrc: UInt32
        let isVideo: Bool
        var sequence = UInt16.random(in: 0...UInt16.max)
        var packets: UInt32 = 0
        var octets: UInt32 = 0
        /// The last video timestamp sent (a re-sent GOP goes right after it).
        var lastTimestamp: UInt32?
    }

    let id: SinkID
    let eventLoop: any EventLoop
    let info: SessionInfo
    let kind: OutputKind
    let source: Source
    private let muxer: MuxerFactory
    private weak var session: WebRTCSession?
    private var tracks: [Track]
    private var history: WebRTCPacketHistory
    /// Segments since the last key frame the viewer got: a PLI sends them again.
    private var gop: [Segment] = []
    private var gopBytes = 0
    static let maxGOPBytes = 16 << 20
    private var attached = false
    private var stopped = false
    private var waitingForKeyFrame = false
    private var lastKeyFrameRequest: NIODeadline?
    private let since = NIODeadline.now()
    private let logger: Logger
    /// Retransmissions the viewer may still ask for: one more per packet sent, at most
    /// `maxRetransmitCredit`, so NACKs can at most double what a viewer costs (no amplification).
    private var retransmitCredit = 0
    static let maxRetransmitCredit = 512
    private(set) var packetsSent: UInt64 = 0
    private(set) var retransmitted: UInt64 = 0
    private(set) var segmentsDropped: UInt64 = 0
    private(set) var keyFrameRequests: UInt64 = 0

    /// RTP payload bytes per packet: header, payload and SRTP tag fit a 1200-byte path MTU.
    static let maxPayload = 1160

    init(id: SinkID, eventLoop: any EventLoop, info: SessionInfo, source: Source, layout: RTPChannelLayout,
         tracks: [Track], historyPackets: Int, logger: Logger) {
        self.id = id
        self.eventLoop = eventLoop
        self.info = info
        self.source = source
        self.kind = .webrtc(layout)
        self.muxer = RTPMuxer.factory(layout: layout, kind: .webrtc(layout), maxPayload: Self.maxPayload,
                                      mergePolicy: .fixed(ms: 0))
        self.tracks = tracks
        self.history = WebRTCPacketHistory(capacity: historyPackets)
        self.logger = logger
    }

    // MARK: WebRTCMedia

    func transportReady(_ session: WebRTCSession) {
        self.session = session
        let loop = eventLoop
        let source = self.source, kind = self.kind, muxer = self.muxer
        Task { [self] in
            let attached = await source.attach(self, kind: kind, muxer: muxer)
            loop.execute { [self] in
                let player = self
                player.attached = attached
                if !attached {
                    player.session?.end("the stream cannot take this player (gone or over the memory budget)", warning: true)
                } else if player.stopped {
                    source.detachLater(player, kind: kind)
                }
            }
        }
    }

    func receivedRTP(_ packet: ByteBuffer, session: WebRTCSession) {}

    func receivedRTCP(_ compound: ByteBuffer, session: WebRTCSession) {
        for message in RTCP.feedback(in: compound) {
            switch message {
            case .nack(_, let media, let sequences):
                guard let t = tracks.firstIndex(where: { $0.ssrc == media && $0.isVideo }) else { continue }
                retransmit(sequences.prefix(256), track: t)
            case .pli(_, let media), .fir(_, let media, _):
                guard tracks.contains(where: { $0.ssrc == media && $0.isVideo }) else { continue }
                keyFrameRequested()
            case .remb:
                break
            }
        }
        session.flush()
    }

    func sessionEnded(reason: String, dropped: Bool) {
        stop()
    }

    private func stop() {
        guard !stopped else { return }
        stopped = true
        gop = []
        gopBytes = 0
        history.clear()
        if attached { source.detachLater(self, kind: kind) }
    }

    // MARK: MediaSink

    func start(_ startup: StartupBytes) {
        guard !stopped else { return }
        let burst = burstTimestamps(startup.segments, after: nil)
        for segment in startup.segments {
            remember(segment)
            send(segment, burst: burst)
        }
        session?.flush()
    }

    func deliver(_ segment: Segment) {
        guard !stopped, let session else { return }
        if !session.channel.isWritable {
            // The shared socket is backed up: skip to the next key frame rather than queue.
            waitingForKeyFrame = true
            segmentsDropped &+= 1
            return
        }
        if waitingForKeyFrame {
            guard segment.startsWithKeyFrame else {
                segmentsDropped &+= 1
                return
            }
            waitingForKeyFrame = false
        }
        remember(segment)
        send(segment, burst: nil)
        session.flush()
    }

    func sourceEnded() {
        guard !stopped else { return }
        sendByes()
        session?.end("the stream ended")
        stop()
    }

    func snapshot(kind: OutputKind) -> PlayerSnapshot {
        PlayerSnapshot(id: id, kind: kind, session: info, bytesSent: session?.bytesSent ?? 0, pendingBytes: 0,
                       segmentsDropped: segmentsDropped, seconds: Double((NIODeadline.now() - since).nanoseconds) / 1e9)
    }

    func kick(reason: String) {
        sendByes()
        session?.end("kicked: \(reason)")
        stop()
    }

    // MARK: sending

    private func remember(_ segment: Segment) {
        if segment.startsWithKeyFrame {
            gop = [segment]
            gopBytes = segment.bytes.readableBytes
        } else if !gop.isEmpty {
            gopBytes += segment.bytes.readableBytes
            if gopBytes > Self.maxGOPBytes {
                gop = []
                gopBytes = 0
            } else {
                gop.append(segment)
            }
        }
    }

    private func track(forChannel channel: UInt8) -> (index: Int, rtcp: Bool)? {
        for i in tracks.indices {
            if tracks[i].rtp == channel { return (i, false) }
            if tracks[i].rtcp == channel { return (i, true) }
        }
        return nil
    }

    /// Sends a segment's packets. `burst` (cached or re-sent GOP): video timestamps rewritten
    /// by it, audio and sender reports skipped.
    private func send(_ segment: Segment, burst: [UInt32: UInt32]?) {
        for (channel, packet) in InterleavedFrames(segment.bytes) {
            guard let (t, isRTCP) = track(forChannel: channel) else { continue }
            if isRTCP {
                if burst == nil { sendReport(packet, track: t) }
                continue
            }
            guard var timestamp = packet.getInteger(at: packet.readerIndex + 4, as: UInt32.self) else { continue }
            if let burst {
                guard tracks[t].isVideo else { continue }
                timestamp = burst[timestamp] ?? timestamp
            }
            let sequence = tracks[t].sequence
            tracks[t].sequence &+= 1
            if tracks[t].isVideo {
                history.record(sequence: sequence, timestamp: timestamp, packet: packet)
                tracks[t].lastTimestamp = timestamp
                if retransmitCredit < Self.maxRetransmitCredit { retransmitCredit += 1 }
            }
            sendRTP(packet, track: t, sequence: sequence, timestamp: timestamp)
        }
    }

    /// Copies the packet into the buffer SRTP encrypts, with this viewer's header fields.
    private func sendRTP(_ packet: ByteBuffer, track t: Int, sequence: UInt16, timestamp: UInt32) {
        guard let session, packet.readableBytes >= 12 else { return }
        var out = session.channel.allocator.buffer(capacity: packet.readableBytes + SRTPSession.maxOverhead)
        out.writeImmutableBuffer(packet)
        let marker = (out.getInteger(at: 1, as: UInt8.self) ?? 0) & 0x80
        out.setInteger(marker | (tracks[t].payloadType & 0x7F), at: 1)
        out.setInteger(sequence, at: 2)
        out.setInteger(timestamp, at: 4)
        out.setInteger(tracks[t].ssrc, at: 8)
        let payload = packet.readableBytes - 12
        if session.sendRTP(&out) {
            packetsSent &+= 1
            tracks[t].packets &+= 1
            tracks[t].octets &+= UInt32(truncatingIfNeeded: payload)
        }
    }

    /// The muxer's sender report with this viewer's SSRC and counts.
    private func sendReport(_ packet: ByteBuffer, track t: Int) {
        guard let session, packet.readableBytes >= 28,
              packet.getInteger(at: packet.readerIndex + 1, as: UInt8.self) == RTCP.senderReport else { return }
        var out = session.channel.allocator.buffer(capacity: packet.readableBytes + SRTPSession.maxOverhead)
        out.writeImmutableBuffer(packet)
        out.setInteger(tracks[t].ssrc, at: 4)
        out.setInteger(tracks[t].packets, at: 20)
        out.setInteger(tracks[t].octets, at: 24)
        session.sendRTCP(&out)
    }

    private func sendByes() {
        guard let session, session.isConnected else { return }
        for track in tracks where track.packets > 0 {
            var out = session.channel.allocator.buffer(capacity: 64)
            RTCP.writeBye(ssrc: track.ssrc, into: &out)
            session.sendRTCP(&out)
        }
        session.flush()
    }

    private func retransmit(_ sequences: ArraySlice<UInt16>, track t: Int) {
        for sequence in sequences where retransmitCredit > 0 {
            guard let (packet, timestamp) = history.packet(sequence) else { continue }
            retransmitCredit -= 1
            sendRTP(packet, track: t, sequence: sequence, timestamp: timestamp)
            retransmitted &+= 1
        }
    }

    // MARK: key frames

    /// A PLI or FIR: at most one answer a second.
    private func keyFrameRequested() {
        let now = NIODeadline.now()
        if let last = lastKeyFrameRequest, now - last < .seconds(1) { return }
        lastKeyFrameRequest = now
        keyFrameRequests &+= 1
        let loop = eventLoop
        let source = self.source
        Task { [self] in
            let asked = await source.requestKeyFrame()
            guard !asked else { return }
            loop.execute { [self] in resendGOP() }
        }
    }

    /// The publisher cannot make a key frame: the viewer's last GOP again, its frames stamped
    /// just after the last one sent, so the browser can decode from a key frame at once.
    private func resendGOP() {
        guard !stopped, !gop.isEmpty, let v = tracks.firstIndex(where: \.isVideo), let last = tracks[v].lastTimestamp else { return }
        let burst = burstTimestamps(gop, after: last)
        guard !burst.isEmpty else { return }
        logger.debug("WebRTC viewer asked for a key frame: GOP of \(gop.count) segment(s) sent again")
        for segment in gop { send(segment, burst: burst) }
        session?.flush()
    }

    /// New timestamps for the video frames of `segments`: packed one tick apart, ending at the
    /// newest frame's own time (`after` nil: the cached GOP at start) or starting one tick after
    /// `after` (a re-sent GOP). Empty when there is nothing to pack or too much to fit before the
    /// next live frame.
    private func burstTimestamps(_ segments: [Segment], after: UInt32?) -> [UInt32: UInt32] {
        guard let v = tracks.first(where: \.isVideo) else { return [:] }
        var stamps: [UInt32] = []
        for segment in segments {
            for (channel, packet) in InterleavedFrames(segment.bytes) where channel == v.rtp {
                if let ts = packet.getInteger(at: packet.readerIndex + 4, as: UInt32.self), stamps.last != ts { stamps.append(ts) }
            }
        }
        guard !stamps.isEmpty, stamps.count < 1000 else { return [:] }
        var map: [UInt32: UInt32] = [:]
        map.reserveCapacity(stamps.count)
        let count = UInt32(stamps.count)
        for (i, ts) in stamps.enumerated() {
            let i = UInt32(i)
            if let after {
                map[ts] = after &+ i &+ 1
            } else if let newest = stamps.last {
                map[ts] = newest &- (count &- 1 &- i)
            }
        }
        return map
    }
}
