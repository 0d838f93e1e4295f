import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayRTP

/// What a WHEP viewer does with its decrypted RTP: video through a reorder window (so a NACKed
/// packet that comes back fills its gap) into the H.264 depacketizer, each whole frame counted
/// (key or not, glass-to-glass latency when measured); G.711 packets counted; gaps tracked for
/// NACK. Counters go to the shared stats once per video frame (and per `flush`), not per packet.
struct WHEPMediaReceiver {
    let videoPayloadType: UInt8?
    let audioPayloadType: UInt8?
    let measureLatency: Bool
    private(set) var videoSSRC: UInt32?
    private(set) var audioSSRC: UInt32?
    private var video: RTPTrackReceiver<H26xDepacketizer>
    private var lossTracker = NACKTracker()
    private var videoHighest = ExtendedSequence()
    private var audioHighest = ExtendedSequence()
    private var pendingBytes = 0
    private var pendingAudioFrames = 0
    private(set) var sawRTP = false

    /// Packets a gap may hold back: ~0.6 s of a 2 Mb/s stream, far more than a NACK round trip.
    static let reorderWindow = 128

    init(videoPayloadType: UInt8?, audioPayloadType: UInt8?, measureLatency: Bool) {
        self.videoPayloadType = videoPayloadType
        self.audioPayloadType = audioPayloadType
        self.measureLatency = measureLatency
        video = RTPTrackReceiver(H26xDepacketizer(codec: .h264), reorderWindow: Self.reorderWindow)
    }

    /// Bytes of any datagram (DTLS, STUN, SRTP), counted as received.
    mutating func count(bytes: Int) { pendingBytes &+= bytes }

    /// One decrypted RTP packet; `now` in monotonic nanoseconds.
    mutating func receive(_ packet: RTPPacket, now: Int64, stats: NIOLockedValueBox<PlayerStats>) {
        sawRTP = true
        let type = packet.payloadType
        if type == audioPayloadType {
            audioSSRC = packet.ssrc
            audioHighest.update(packet.sequence)
            pendingAudioFrames &+= 1
            return
        }
        guard type == videoPayloadType else { return }
        videoSSRC = packet.ssrc
        videoHighest.update(packet.sequence)
        lossTracker.received(packet.sequence, now: now)
        let measure = measureLatency
        var bytes = pendingBytes, audio = pendingAudioFrames
        video.push(packet) { unit in
            let latency = measure ? glassToGlassMicros(unit.payload, codec: .h264) : nil
            let at = NIODeadline.now()
            stats.withLockedValue {
                $0.bytes &+= bytes
                $0.audioFrames &+= audio
                $0.recordVideoFrame(isKey: unit.isKeyFrame, at: at, timestamp: nil)
                if let latency { $0.latenciesMicros.append(latency) }
            }
            bytes = 0
            audio = 0
        }
        pendingBytes = bytes
        pendingAudioFrames = audio
    }

    /// Sequence numbers of the video to NACK now (empty almost always).
    mutating func lostVideoPackets(now: Int64) -> [UInt16] { lossTracker.due(now: now) }

    var hasMissingVideo: Bool { lossTracker.missingCount > 0 }

    /// Counters not yet in `stats` go there (the periodic report; the end).
    mutating func flush(into stats: NIOLockedValueBox<PlayerStats>) {
        let (bytes, audio) = (pendingBytes, pendingAudioFrames)
        pendingBytes = 0
        pendingAudioFrames = 0
        stats.withLockedValue {
            $0.bytes &+= bytes
            $0.audioFrames &+= audio
        }
    }

    /// Receiver report blocks for the sources heard (RFC 3550 6.4.2: extended highest sequence).
    var reportBlocks: [RTCPReportBlock] {
        var blocks: [RTCPReportBlock] = []
        if let ssrc = videoSSRC, let highest = videoHighest.value {
            blocks.append(RTCPReportBlock(ssrc: ssrc, highestSequence: highest))
        }
        if let ssrc = audioSSRC, let highest = audioHighest.value {
            blocks.append(RTCPReportBlock(ssrc: ssrc, highestSequence: highest))
        }
        return blocks
    }

    var depacketizerStats: RTPDepacketizerStats { video.depacketizer.stats }
}

/// The extended highest sequence number received (cycles in the high 16 bits).
struct ExtendedSequence {
    private var cycles: UInt32 = 0
    private var last: UInt16?

    var value: UInt32? { last.map { cycles | UInt32($0) } }

    mutating func update(_ sequence: UInt16) {
        guard let last else {
            self.last = sequence
            return
        }
        let ahead = sequence &- last
        guard ahead != 0, ahead < 0x8000 else { return }  // a duplicate or an older packet
        if sequence < last { cycles &+= 1 << 16 }
        self.last = sequence
    }
}
