import Foundation
import NIOCore
import RelayCore

/// What a segmenter needs from config, in milliseconds.
struct HLSWindowConfig: Sendable {
    var format: HLSFormat
    var segmentMs: Int64
    /// LL-HLS part target; 0: no parts (TS always, fMP4 with `part_ms` 0).
    var partMs: Int64
    /// Segments listed in a playlist.
    var listed: Int

    init(format: HLSFormat, config: HLSConfig) {
        self.format = format
        self.segmentMs = Int64(config.segmentMs)
        self.partMs = format == .fmp4 ? Int64(config.partMs) : 0
        self.listed = max(config.playlistSegments, 1)
    }

    var lowLatency: Bool { partMs > 0 }
    /// Completed segments kept in memory: a segment that left the playlist stays fetchable for
    /// its own duration plus the playlist's (RFC 8216 6.2.2), i.e. about `listed + 1` more.
    var kept: Int { listed &* 2 &+ 1 }
}

/// Cuts one stream's muxed packets (a `Segment` each, from a TransStream with a merge window of 0)
/// into HLS segments and LL-HLS parts, and keeps the recent ones in memory. A value confined to
/// its segmenter's event loop; no I/O, so tests drive it directly.
///
/// A segment is cut before a resumable packet (a video key frame; any packet of an audio-only
/// stream) once it spans `segmentMs` of media time, and parts before the packet that would make
/// the open part longer than the part target. Durations come from the pacing track's clock
/// (`Segment.pacingMs`): a segment ends where the next begins.
struct HLSSegmentWindow: Sendable {
    let config: HLSWindowConfig
    /// Completed segments, oldest first, contiguous media sequence numbers.
    private(set) var segments: [HLSSegment] = []
    private(set) var open: HLSOpenSegment
    /// fMP4 initialization segments by id (EXT-X-MAP), those still referenced.
    private(set) var inits: [Int: ByteBuffer] = [:]
    private(set) var initID = 0
    /// TS: PAT/PMT, served before a segment that does not start with them.
    private(set) var tsTables: ByteBuffer?
    /// EXT-X-TARGETDURATION: never decreases, at least every segment's duration rounded up.
    private(set) var targetDurationS: Int
    /// PART-TARGET (ms): `partMs`, raised if a part had to be longer (frames further apart).
    private(set) var partTargetMs: Int64
    /// Every held buffer as allocated (parts cut so far, including the open segment's).
    private(set) var heldBytes = 0
    /// Discontinuities of segments no longer in memory.
    private var forgottenDiscontinuities = 0
    private var lastPacingMs: Int64?
    /// The pacing track's recent frame interval: predicts whether the next frame overruns a part.
    private var intervalMs: Int64 = 40
    /// The start-up bytes made the open segment: cut it at the next frame so the first playlist
    /// is ready without waiting for a whole segment.
    private var cutAtNextPacing = false
    private var partSizeHint = 4096
    private let allocator = ByteBufferAllocator()

    /// Longest segment when key frames do not come (a cut without one: players still play on).
    var maxSpanMs: Int64 { config.segmentMs &* 10 }
    static let maxSegmentBytes = 64 << 20

    init(config: HLSWindowConfig) {
        self.config = config
        self.open = HLSOpenSegment(msn: 0, discontinuity: false, initID: 0)
        self.targetDurationS = Int((config.segmentMs &+ 999) / 1000)
        self.partTargetMs = config.partMs
    }

    // MARK: input

    /// The start-up bytes of the TransStream: its header (init segment / PAT+PMT) and the cached
    /// GOP, which becomes segment 0 at the next frame.
    mutating func start(header: ByteBuffer, segments startup: [Segment], nowMs: Int64) {
        switch config.format {
        case .fmp4: inits[initID] = header
        case .ts: tsTables = header.readableBytes > 0 ? header : nil
        }
        for segment in startup { _ = feed(segment, nowMs: nowMs) }
        cutAtNextPacing = !open.isEmpty
    }

    /// One packet's bytes. True when a part or segment was completed (waiters may be satisfied).
    mutating func feed(_ segment: Segment, nowMs: Int64) -> Bool {
        var bytes = segment.bytes
        var changed = false
        if config.format == .fmp4, MP4Boxes.startsWithFileType(bytes) {
            let (initBytes, rest) = MP4Boxes.splitInitialization(bytes)
            changed = newInit(initBytes, nowMs: nowMs)
            bytes = rest
            guard bytes.readableBytes > 0 else { return changed }
        }
        let p = segment.pacingMs
        if !open.isEmpty {
            if let p {
                let span = p &- (open.startMs ?? p)
                if cutAtNextPacing || (segment.startsWithKeyFrame && span >= config.segmentMs) || span >= maxSpanMs
                    || open.byteCount >= Self.maxSegmentBytes {
                    closeSegment(endMs: p, nowMs: nowMs)
                    changed = true
                } else if config.lowLatency, let start = open.partStartMs, p > start,
                          p &- start &+ intervalMs > config.partMs {
                    cutPart(endMs: p)
                    changed = true
                }
            } else if open.byteCount >= Self.maxSegmentBytes {
                closeSegment(endMs: (lastPacingMs ?? 0) &+ intervalMs, nowMs: nowMs)
                changed = true
            }
        }
        if let p {
            if let last = lastPacingMs, p > last { intervalMs = min(max(p &- last, 1), 1000) }
            lastPacingMs = p
        }
        append(bytes, pacingMs: p, key: segment.startsWithKeyFrame)
        return changed
    }

    /// A new initialization segment (codec change, publisher came back): the open segment ends
    /// and the next starts with EXT-X-DISCONTINUITY and a new EXT-X-MAP.
    private mutating func newInit(_ bytes: ByteBuffer, nowMs: Int64) -> Bool {
        var changed = false
        if !open.isEmpty {
            closeSegment(endMs: (lastPacingMs ?? 0) &+ intervalMs, nowMs: nowMs)
            changed = true
        }
        initID &+= 1
        inits[initID] = bytes
        open = HLSOpenSegment(msn: open.msn, discontinuity: !segments.isEmpty || open.discontinuity, initID: initID)
        return changed
    }

    private mutating func append(_ bytes: ByteBuffer, pacingMs p: Int64?, key: Bool) {
        guard bytes.readableBytes > 0 else { return }
        var buffer: ByteBuffer
        if let current = open.partBytes {
            buffer = current
            open.partBytes = nil  // uniquely referenced while appending: no copy on write
        } else {
            buffer = allocator.buffer(capacity: max(partSizeHint, bytes.readableBytes))
            open.partIndependent = key
            open.partStartMs = p
        }
        if open.startMs == nil { open.startMs = p }
        if open.partStartMs == nil { open.partStartMs = p }
        buffer.writeImmutableBuffer(bytes)
        open.partBytes = buffer
        open.byteCount &+= bytes.readableBytes
    }

    private mutating func cutPart(endMs: Int64) {
        guard let buffer = open.partBytes, buffer.readableBytes > 0 else {
            open.partBytes = nil
            return
        }
        let duration = max(0, endMs &- (open.partStartMs ?? endMs))
        open.parts.append(HLSPart(bytes: buffer, durationMs: duration, independent: open.partIndependent))
        if config.lowLatency { partTargetMs = max(partTargetMs, duration) }
        heldBytes &+= MemoryCost.held(buffer) &+ MemoryCost.segmentOverhead
        let size = buffer.readableBytes
        partSizeHint = min(max(4096, size &+ size / 4), 16 << 20)
        open.partBytes = nil
        open.partStartMs = nil
        open.partIndependent = false
    }

    private mutating func closeSegment(endMs: Int64, nowMs: Int64) {
        cutPart(endMs: endMs)
        cutAtNextPacing = false
        guard let first = open.parts.first else { return }
        let duration = max(0, endMs &- (open.startMs ?? endMs))
        let prefix = config.format == .ts && !MPEGTSBytes.startsWithPAT(first.bytes) ? tsTables : nil
        let held = open.parts.reduce(0) { $0 &+ MemoryCost.held($1.bytes) &+ MemoryCost.segmentOverhead }
        let date = Date(timeIntervalSince1970: Double(nowMs &- duration) / 1000)
        segments.append(HLSSegment(msn: open.msn, durationMs: duration, parts: open.parts, prefix: prefix,
                                   discontinuity: open.discontinuity, initID: open.initID,
                                   programDateTime: iso8601(date), heldBytes: held))
        targetDurationS = max(targetDurationS, Int(clamping: (duration &+ 999) / 1000))
        open = HLSOpenSegment(msn: open.msn &+ 1, discontinuity: false, initID: initID)
        trim()
    }

    private mutating func trim() {
        while segments.count > config.kept {
            let gone = segments.removeFirst()
            heldBytes &-= gone.heldBytes
            if gone.discontinuity { forgottenDiscontinuities &+= 1 }
        }
        let oldest = segments.first?.initID ?? open.initID
        for id in inits.keys where id < oldest { inits[id] = nil }
    }

    /// A copy for readers on other threads: everything but the open part's buffer, which stays
    /// uniquely referenced here (so appending to it never copies).
    func published() -> HLSSegmentWindow {
        var copy = self
        copy.open.partBytes = nil
        return copy
    }

    // MARK: what playlists list

    /// The segments a playlist lists (the newest `listed`).
    var listed: ArraySlice<HLSSegment> { segments.suffix(config.listed) }

    /// EXT-X-MEDIA-SEQUENCE.
    var mediaSequence: Int { listed.first?.msn ?? open.msn }

    /// EXT-X-DISCONTINUITY-SEQUENCE: discontinuities before the first listed segment.
    var discontinuitySequence: Int {
        forgottenDiscontinuities &+ segments.prefix(segments.count &- listed.count).reduce(0) { $0 &+ ($1.discontinuity ? 1 : 0) }
    }

    var lastCompletedMSN: Int { segments.last?.msn ?? -1 }

    func segment(_ msn: Int) -> HLSSegment? {
        guard let first = segments.first, msn >= first.msn else { return nil }
        let index = msn &- first.msn
        return index < segments.count ? segments[index] : nil
    }

    func part(_ msn: Int, _ index: Int) -> HLSPart? {
        guard index >= 0 else { return nil }
        if msn == open.msn { return index < open.parts.count ? open.parts[index] : nil }
        guard config.lowLatency, let segment = segment(msn) else { return nil }
        return index < segment.parts.count ? segment.parts[index] : nil
    }

    /// Bits per second of the largest held segment (BANDWIDTH); nil before the first.
    var peakBitrate: Int? {
        segments.compactMap { s -> Int? in
            guard s.durationMs > 0 else { return nil }
            return Int(clamping: Int64(s.byteCount) &* 8000 / s.durationMs)
        }.max()
    }

    // MARK: blocking

    func isSatisfied(_ wait: HLSWait) -> Bool {
        switch wait {
        case .anySegment:
            return !segments.isEmpty
        case .segment(let msn):
            return lastCompletedMSN >= msn
        case .part(let msn, let index):
            return lastCompletedMSN >= msn || open.msn > msn || (open.msn == msn && open.parts.count > index)
        }
    }

    /// Whether a blocking reload for `msn` (and part) may wait: false when it asks too far
    /// ahead (rfc8216bis 6.2.5.2: beyond the last segment + 2, or beyond the Advance Part Limit).
    func acceptsReload(msn: Int, part: Int?) -> Bool {
        guard msn <= lastCompletedMSN &+ 2 else { return false }
        guard let part, config.lowLatency, msn >= open.msn else { return true }
        let limit = partTargetMs < 1000 ? Int(3000 / max(partTargetMs, 1)) : 3
        let ahead = msn == open.msn ? part &- (open.parts.count &- 1) : part &+ 1
        return ahead <= limit
    }

    /// The part a preload hint names now, or the first of the next segment: a request for it waits.
    func isNextPart(_ msn: Int, _ index: Int) -> Bool {
        (msn == open.msn && index == open.parts.count) || (msn == open.msn &+ 1 && index == 0)
    }

    /// How long a blocking request may wait (three target durations, rfc8216bis 6.2.5.2).
    var blockingTimeoutMs: Int64 { Int64(targetDurationS) &* 3000 }
}

/// What a blocked request waits for.
enum HLSWait: Equatable, Sendable {
    /// The first segment (a new stream's first playlist).
    case anySegment
    /// Segment `msn` complete.
    case segment(Int)
    /// Part `part` of segment `msn` (or a later segment) available.
    case part(msn: Int, part: Int)
}

/// The few box-level facts the segmenter reads from fMP4 bytes.
enum MP4Boxes {
    static func startsWithFileType(_ bytes: ByteBuffer) -> Bool {
        bytes.readableBytes >= 8 && bytes.getBytes(at: bytes.readerIndex + 4, length: 4) == Array("ftyp".utf8)
    }

    /// Splits bytes that start with `ftyp` into the initialization segment (the boxes before the
    /// first `moof`/`styp`/`sidx`) and the rest. Box sizes are checked; a bad one ends the walk
    /// and everything is the initialization segment.
    static func splitInitialization(_ bytes: ByteBuffer) -> (ByteBuffer, ByteBuffer) {
        var offset = 0
        let total = bytes.readableBytes
        while total &- offset >= 8 {
            guard let size = bytes.getInteger(at: bytes.readerIndex &+ offset, as: UInt32.self),
                  let type = bytes.getString(at: bytes.readerIndex &+ offset &+ 4, length: 4),
                  size >= 8, let length = Int(exactly: size), length <= total &- offset else { break }
            if type == "moof" || type == "styp" || type == "sidx" {
                let head = bytes.getSlice(at: bytes.readerIndex, length: offset) ?? ByteBuffer()
                let rest = bytes.getSlice(at: bytes.readerIndex &+ offset, length: total &- offset) ?? ByteBuffer()
                return (head, rest)
            }
            offset &+= length
        }
        return (bytes, ByteBuffer())
    }
}

enum MPEGTSBytes {
    /// The first TS packet is the PAT (sync byte, PID 0).
    static func startsWithPAT(_ bytes: ByteBuffer) -> Bool {
        guard let head = bytes.getBytes(at: bytes.readerIndex, length: 3) else { return false }
        return head[0] == 0x47 && head[1] & 0x1F == 0 && head[2] == 0
    }
}
