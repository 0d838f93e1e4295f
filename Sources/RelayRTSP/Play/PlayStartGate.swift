import NIOCore
import RelayCore
import RelayRTP

/// The first RTP packet a player gets on one track: what the PLAY response's RTP-Info reports.
public struct RTPStart: Sendable, Equatable {
    public var sequence: UInt16
    public var rtpTime: UInt32
    public var ssrc: UInt32

    public init(sequence: UInt16, rtpTime: UInt32, ssrc: UInt32) {
        self.sequence = sequence
        self.rtpTime = rtpTime
        self.ssrc = ssrc
    }
}

/// Holds a new player's first segments until the first RTP packet of every track it set up is
/// known, so RTP-Info names exactly the packets the player will receive first. Segments before
/// the first one a player can start on (a key frame) are dropped, as the player could not
/// decode them anyway.
public struct PlayStartGate: Sendable {
    public let rtpChannels: [UInt8]
    public private(set) var starts: [UInt8: RTPStart] = [:]
    public private(set) var segments: [Segment] = []
    /// What `segments` hold as allocated; past `maxHeldBytes` they are dropped and the gate
    /// starts again at the next key frame (a player is not worth unbounded memory).
    private var heldBytes = 0
    public let maxHeldBytes: Int

    public init(rtpChannels: [UInt8], maxHeldBytes: Int = 16 << 20) {
        self.rtpChannels = rtpChannels
        self.maxHeldBytes = maxHeldBytes
    }

    public var isComplete: Bool { starts.count == rtpChannels.count }

    /// RTP channels whose first packet is not known yet.
    public var missing: [UInt8] { rtpChannels.filter { starts[$0] == nil } }

    public mutating func offer(_ segment: Segment) {
        if segments.isEmpty && !segment.startsWithKeyFrame { return }
        heldBytes += MemoryCost.held(segment.bytes) + MemoryCost.segmentOverhead
        if heldBytes > maxHeldBytes {
            segments = []
            heldBytes = 0
            if !segment.startsWithKeyFrame { return }
            heldBytes = MemoryCost.held(segment.bytes) + MemoryCost.segmentOverhead
        }
        segments.append(segment)
        guard !isComplete else { return }
        for (channel, packet) in InterleavedFrames(segment.bytes)
        where starts[channel] == nil && rtpChannels.contains(channel) {
            guard let header = RTPHeader(packet) else { continue }
            starts[channel] = RTPStart(sequence: header.sequence, rtpTime: header.timestamp, ssrc: header.ssrc)
            if isComplete { break }
        }
    }
}
