import NIOCore

/// Collects muxed bytes into segments so that each player gets one `write` per segment instead of
/// one per packet.
///
/// A segment is cut before every video key frame (so a segment that starts with one is a place a
/// player can start or resume) and once it spans `mergeWindowMs` of media time; with a window of 0
/// every packet is its own segment.
struct MergeWriteBuffer {
    let mergeWindowMs: Int64
    let prefixSize: Int
    private(set) var open: ByteBuffer?
    private var openStartsWithKey = false
    private var openFirstMs: Int64 = 0
    private let allocator = ByteBufferAllocator()
    /// Capacity to allocate for the next segment: the size of recent ones, so most need no regrowth.
    private var capacityHint = 4096

    init(mergeWindowMs: Int, prefixSize: Int) {
        self.mergeWindowMs = Int64(max(0, mergeWindowMs))
        self.prefixSize = prefixSize
    }

    /// Called before muxing a packet at media time `ms`. Returns the segment to cut, if the packet
    /// must start a new one: `cutBefore` for a video key frame; `resumable` marks a segment that a
    /// player may start on (key frame, or any packet of an audio-only stream).
    mutating func willAppend(atMs ms: Int64, cutBefore: Bool, resumable: Bool) -> (bytes: ByteBuffer, startsWithKey: Bool)? {
        var cut: (ByteBuffer, Bool)?
        if let buffer = open, buffer.readableBytes > prefixSize,
           cutBefore || ms - openFirstMs >= mergeWindowMs {
            cut = (buffer, openStartsWithKey)
            open = nil
        }
        if let cut { noteSize(cut.0.readableBytes) }
        ensureOpen(atMs: ms, startsWithKey: resumable)
        return cut
    }

    /// Opens a segment if none is open (also used for mid-stream sequence headers).
    mutating func ensureOpen(atMs ms: Int64, startsWithKey: Bool) {
        guard open == nil else { return }
        var buffer = allocator.buffer(capacity: capacityHint)
        if prefixSize > 0 { buffer.writeRepeatingByte(0, count: prefixSize) }
        open = buffer
        openStartsWithKey = startsWithKey
        openFirstMs = ms
    }

    /// Appends into the open segment (call after `willAppend`).
    mutating func withOpen(_ body: (inout ByteBuffer) -> Void) {
        precondition(open != nil, "willAppend must open a segment first")
        body(&open!)
    }

    /// With a window of 0 the packet just appended is complete at once.
    var cutsEveryPacket: Bool { mergeWindowMs == 0 }

    /// Cuts whatever is open (window 0, or the source is flushing).
    mutating func cut() -> (bytes: ByteBuffer, startsWithKey: Bool)? {
        guard let buffer = open, buffer.readableBytes > prefixSize else { return nil }
        open = nil
        noteSize(buffer.readableBytes)
        return (buffer, openStartsWithKey)
    }

    private mutating func noteSize(_ n: Int) {
        // Round up to a power of two so the allocator's size classes are reused.
        capacityHint = min(max(1024, (n + 64).nextPowerOfTwo), 4 << 20)
    }
}

extension Int {
    var nextPowerOfTwo: Int {
        guard self > 1 else { return 1 }
        return 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
    }
}
