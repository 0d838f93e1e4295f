import NIOCore

/// A part of a media segment: an LL-HLS partial segment, or the whole segment when there are no
/// parts. Its bytes are frozen once cut and shared by every request that fetches it.
struct HLSPart {
    var bytes: ByteBuffer
    var durationMs: Int64
    /// Starts with a key frame (EXT-X-PART INDEPENDENT=YES).
    var independent: Bool
}

/// A completed media segment held in memory: its parts concatenated are the segment.
struct HLSSegment {
    let msn: Int
    let durationMs: Int64
    let parts: [HLSPart]
    /// Bytes served before the parts: a TS segment that does not start with PAT/PMT gets the
    /// stream's tables (shared storage, not copied).
    let prefix: ByteBuffer?
    /// Preceded by EXT-X-DISCONTINUITY (a new fMP4 initialization segment).
    let discontinuity: Bool
    /// The fMP4 initialization segment (EXT-X-MAP) its fragments need.
    let initID: Int
    /// EXT-X-PROGRAM-DATE-TIME: wall-clock time of its first frame, formatted once.
    let programDateTime: String
    /// What it keeps allocated (`MemoryCost`).
    let heldBytes: Int

    /// The bytes served for the whole segment, in order.
    var buffers: [ByteBuffer] {
        var result: [ByteBuffer] = []
        result.reserveCapacity(parts.count + 1)
        if let prefix { result.append(prefix) }
        for part in parts { result.append(part.bytes) }
        return result
    }

    var byteCount: Int { buffers.reduce(0) { $0 &+ $1.readableBytes } }
}

/// The segment being filled: its completed parts and the open one.
struct HLSOpenSegment {
    let msn: Int
    let discontinuity: Bool
    let initID: Int
    /// Pacing time (ms) of its first frame; nil until one arrives.
    var startMs: Int64?
    var parts: [HLSPart] = []
    /// The part being filled (uniquely referenced while it grows: appending never copies).
    var partBytes: ByteBuffer?
    var partStartMs: Int64?
    var partIndependent = false
    /// Bytes in its parts and the open one (bounds a segment of a stream without key frames).
    var byteCount = 0

    init(msn: Int, discontinuity: Bool, initID: Int) {
        self.msn = msn
        self.discontinuity = discontinuity
        self.initID = initID
    }

    var isEmpty: Bool { byteCount == 0 }
}
