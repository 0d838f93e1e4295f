import NIOCore

/// Collects muxed bytes into segments so that each player gets one `write` per segment instead of
/// one per packet.
///
/// A segment is cut before every video key frame (so a segment that starts with one is a place a
/// player can start or resume) and once it spans `mergeWindowMs` of media time; with a window of 0
/// every packet is its own segment. The window may change between packets (`MergeWritePolicy`
/// adapts it to the player count); the open segment is measured against the current one.
///
/// The span is measured on one clock at a time: the pacing track's (video, when there is video)
/// against the first pacing packet of the segment, and the other tracks' against their own first
/// packet, with twice the window (they only cut when the pacing track stalls). Comparing audio
/// times with video times would cut at random when a source's tracks are offset (a camera whose
/// audio runs 400 ms ahead): a key frame would sit alone in its segment, and RTSP's PLAY waits
/// for a packet of every track.
struct MergeWriteBuffer {
    private(set) var mergeWindowMs: Int64
    let prefixSize: Int
    private(set) var open: ByteBuffer?
    private var openStartsWithKey = false
    /// Media time of the open segment's first pacing packet, and of its first other packet.
    private var openFirstPacingMs: Int64?
    private var openFirstOtherMs: Int64?
    private let allocator = ByteBufferAllocator()
    /// Capacity to allocate for the next segment: the size of recent ones, so most need no regrowth.
    private var capacityHint = 4096

    init(mergeWindowMs: Int, prefixSize: Int) {
        self.mergeWindowMs = Int64(max(0, mergeWindowMs))
        self.prefixSize = prefixSize
    }

    /// Sets the window for the open segment and the next ones. Shrinking it to 0 leaves the open
    /// segment for the caller to `cut()`: it holds packets that players are waiting for.
    mutating func setWindow(ms: Int) {
        mergeWindowMs = Int64(max(0, ms))
    }

    /// Called before muxing a packet at media time `ms`. Returns the segment to cut, if the packet
    /// must start a new one: `cutBefore` for a video key frame; `resumable` marks a segment that a
    /// player may start on (key frame, or any packet of an audio-only stream); `pacing` says the
    /// packet is of the track whose clock measures the window (video, or every packet without video).
    /// `expectedBytes`: about what the packet will add, to size a segment opened for it (with a
    /// window of 0 a segment holds one packet: sizing it by recent segments would give a 1-byte
    /// audio frame the capacity of the last video frame).
    mutating func willAppend(atMs ms: Int64, cutBefore: Bool, resumable: Bool, pacing: Bool, expectedBytes: Int = 0)
        -> Cut? {
        var cut: Cut?
        if let buffer = open, buffer.readableBytes > prefixSize, cutBefore || spanReached(atMs: ms, pacing: pacing) {
            cut = Cut(bytes: buffer, startsWithKey: openStartsWithKey, pacingMs: openFirstPacingMs)
            open = nil
        }
        if let cut { noteSize(cut.bytes.readableBytes) }
        ensureOpen(startsWithKey: resumable, expectedBytes: expectedBytes)
        if pacing {
            if openFirstPacingMs == nil { openFirstPacingMs = ms }
        } else if openFirstOtherMs == nil {
            openFirstOtherMs = ms
        }
        return cut
    }

    private func spanReached(atMs ms: Int64, pacing: Bool) -> Bool {
        if pacing { return openFirstPacingMs.map { ms &- $0 >= mergeWindowMs } ?? false }
        return openFirstOtherMs.map { ms &- $0 >= 2 * mergeWindowMs } ?? false
    }

    /// Opens a segment if none is open (also used for mid-stream sequence headers).
    mutating func ensureOpen(startsWithKey: Bool, expectedBytes: Int = 0) {
        guard open == nil else { return }
        let capacity = cutsEveryPacket && expectedBytes > 0
            ? min(expectedBytes, Self.maxHint) + prefixSize + Self.framingAllowance
            : capacityHint
        var buffer = allocator.buffer(capacity: capacity)
        if prefixSize > 0 { buffer.writeRepeatingByte(0, count: prefixSize) }
        open = buffer
        openStartsWithKey = startsWithKey
        openFirstPacingMs = nil
        openFirstOtherMs = nil
    }

    /// Appends into the open segment (opens one if `willAppend` did not).
    mutating func withOpen(_ body: (inout ByteBuffer) -> Void) {
        ensureOpen(startsWithKey: false)
        guard var buffer = open else { return }
        open = nil  // keep the storage uniquely referenced while appending (no copy on write)
        body(&buffer)
        open = buffer
    }

    /// With a window of 0 the packet just appended is complete at once.
    var cutsEveryPacket: Bool { mergeWindowMs == 0 }

    /// Cuts whatever is open (window 0, or the source is flushing).
    mutating func cut() -> Cut? {
        guard let buffer = open, buffer.readableBytes > prefixSize else { return nil }
        open = nil
        noteSize(buffer.readableBytes)
        return Cut(bytes: buffer, startsWithKey: openStartsWithKey, pacingMs: openFirstPacingMs)
    }

    /// A segment cut from the buffer (`Segment`'s fields).
    struct Cut {
        var bytes: ByteBuffer
        var startsWithKey: Bool
        var pacingMs: Int64?
    }

    private mutating func noteSize(_ n: Int) {
        // Round up to a power of two so the allocator's size classes are reused.
        capacityHint = min(max(1024, (n + 64).nextPowerOfTwo), Self.maxHint)
    }

    private static let maxHint = 4 << 20
    /// Room for a packet's framing beyond its payload: RTMP chunk and FLV tag headers, RTP
    /// headers of a few packets, HTTP chunk trailer.
    private static let framingAllowance = 128
}

extension Int {
    var nextPowerOfTwo: Int {
        guard self > 1 else { return 1 }
        return 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
    }
}
