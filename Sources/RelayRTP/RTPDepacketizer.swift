import NIOCore

/// One access unit rebuilt from RTP, in the `AVPacket` payload convention: H.264/H.265 NAL
/// units with 4-byte big-endian lengths, AAC raw access units, G.711 samples as they are.
public struct RTPAccessUnit: Sendable {
    public var payload: ByteBuffer
    /// The RTP timestamp unwrapped to 64 bits, in the track's clock rate (video: presentation
    /// time; audio: the first sample).
    public var rtpTime: Int64
    /// Video: an IDR (H.264) or IRAP (H.265) picture is present. Audio: always.
    public var isKeyFrame: Bool
    /// The unit carried a parameter set (VPS/SPS/PPS) that differs from the last one seen:
    /// the depacketizer's `parameterSets` hold the new configuration.
    public var parameterSetsChanged: Bool

    /// Default cap on one unit: far above any real frame, far below what hurts the relay.
    public static let defaultMaxBytes = 8 << 20

    public init(payload: ByteBuffer, rtpTime: Int64, isKeyFrame: Bool, parameterSetsChanged: Bool = false) {
        self.payload = payload
        self.rtpTime = rtpTime
        self.isKeyFrame = isKeyFrame
        self.parameterSetsChanged = parameterSetsChanged
    }
}

/// What a depacketizer delivered and what it had to drop (for metrics and one log line).
public struct RTPDepacketizerStats: Sendable, Equatable {
    public var accessUnits: UInt64 = 0
    /// Units not delivered: hit by a sequence gap, malformed, or over the size cap.
    public var droppedAccessUnits: UInt64 = 0
    /// Of the dropped units, those that grew past `maxAccessUnitBytes`.
    public var oversizeAccessUnits: UInt64 = 0
    /// Packets whose payload could not be read (truncated, reserved types, bad lengths).
    public var malformedPackets: UInt64 = 0
    public var sequenceGaps: UInt64 = 0
    public var duplicatePackets: UInt64 = 0

    public init() {}
}

/// Turns the RTP packets of one track, in sequence order (put an `RTPReorderBuffer` in front
/// for UDP), into access units. A sequence gap drops only the unit it hits; nothing a peer
/// sends can trap or grow memory past the configured cap.
public protocol RTPDepacketizer {
    var stats: RTPDepacketizerStats { get }
    mutating func push(_ packet: RTPPacket, emit: (RTPAccessUnit) throws -> Void) rethrows
    /// Delivers a complete unit still waiting for its marker (end of stream).
    mutating func flush(emit: (RTPAccessUnit) throws -> Void) rethrows
}


/// Follows the sequence numbers of a depacketizer's packets.
struct RTPSequenceCheck {
    private var last: UInt16?

    /// nil for a duplicate of the previous packet (drop it), else whether a gap precedes this
    /// packet; both counted in `stats`.
    mutating func admit(_ sequence: UInt16, counting stats: inout RTPDepacketizerStats) -> Bool? {
        defer { last = sequence }
        guard let last else { return false }
        if sequence == last {
            stats.duplicatePackets &+= 1
            return nil
        }
        if sequence == last &+ 1 { return false }
        stats.sequenceGaps &+= 1
        return true
    }
}

/// One received track: a reorder buffer (UDP; window 0 for TCP) in front of a depacketizer.
public struct RTPTrackReceiver<Depacketizer: RTPDepacketizer> {
    public private(set) var reorder: RTPReorderBuffer<RTPPacket>
    public private(set) var depacketizer: Depacketizer

    public init(_ depacketizer: Depacketizer, reorderWindow: Int) {
        self.reorder = RTPReorderBuffer(window: reorderWindow)
        self.depacketizer = depacketizer
    }

    public mutating func push(_ packet: RTPPacket, emit: (RTPAccessUnit) throws -> Void) rethrows {
        try reorder.push(packet, sequence: packet.sequence) {
            if case .packet(let p) = $0 { try depacketizer.push(p, emit: emit) }
        }
    }

    /// Delivers what the reorder buffer holds and the depacketizer's last unit (end of stream).
    public mutating func flush(emit: (RTPAccessUnit) throws -> Void) rethrows {
        try reorder.flush { if case .packet(let p) = $0 { try depacketizer.push(p, emit: emit) } }
        try depacketizer.flush(emit: emit)
    }
}
