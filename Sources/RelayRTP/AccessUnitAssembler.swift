import NIOCore
import RelayCore

/// One coded picture with its non-VCL units, as the relay carries it.
public struct VideoAccessUnit: Sendable {
    public var codec: CodecID
    /// NAL units each prefixed by a 4-byte big-endian length (AUD and filler data removed).
    public var payload: ByteBuffer
    public var isKey: Bool
    public var vps: [ByteBuffer]
    public var sps: [ByteBuffer]
    public var pps: [ByteBuffer]
    /// Offset in the elementary stream of the first NAL unit's header (PES time stamps apply to
    /// the first access unit that starts in their PES).
    public var startOffset: Int64
    /// Caller's arrival time of the data that started the access unit.
    public var arrival: Int64
}

/// Cuts an Annex-B elementary stream (H.264 or H.265) into access units, from data that arrives
/// in arbitrary pieces (PES payloads spanning RTP packets, several PES per frame, frames sharing
/// a PES).
///
/// Boundaries come from the bitstream (ITU-T H.264 §7.4.1.2.3, H.265 §7.4.2.4.4): an access unit
/// delimiter, a parameter set or SEI after a picture, or a slice that is the first of its picture.
/// The last NAL unit of a frame is only known complete when the next one starts, so a caller that
/// knows a frame ended (RTP marker, a new RTP timestamp) calls `endOfFrame` to emit it at once.
/// Such hints are checked before they are believed: the first `hintConfirmations` are only
/// compared with where the bitstream says frames end; once they all agree, hints emit frames at
/// once. A hint that disagrees (the data after it continues a NAL unit or a picture) turns them
/// off for good (`hintTrust == .distrusted`), so a device with bogus marker bits costs one frame
/// of latency, never a corrupt frame.
///
/// The codec may be unknown (a program stream without a map): it is inferred from the first
/// unambiguous parameter set (H.265 VPS/SPS, H.264 SPS); data before it is dropped.
public struct AccessUnitAssembler: Sendable {
    public private(set) var codec: CodecID?
    public let maxBytes: Int

    private var buffer = ByteBuffer()
    /// The reader index sits at the start of a NAL unit (just after its start code).
    private var inNAL = false
    /// Offset from the reader index where the start-code scan resumes.
    private var scanFrom = 0
    /// Elementary-stream offset of `buffer.readerIndex`.
    private var consumed: Int64 = 0
    private var current: Build?
    public enum HintTrust: Sendable, Equatable {
        case probing(confirmed: Int)
        case trusted
        case distrusted
    }
    public static let hintConfirmations = 3
    public private(set) var hintTrust = HintTrust.probing(confirmed: 0)
    /// Set when hints were just found wrong; the caller logs it and clears it.
    public private(set) var hintsJustDistrusted = false

    private enum Check {
        case none
        /// A hint said the frame ends `offset` bytes after the reader index (not acted on).
        case probe(offset: Int)
        /// A trusted hint emitted the frame: the next data must begin a new one.
        case afterFlush
    }
    private var check = Check.none
    /// The NAL unit being received is a slice.
    private var tailIsVCL = false

    private struct Build {
        var payload: ByteBuffer
        var hasVCL = false
        var isKey = false
        /// The first slice of the picture was seen; without it the picture is incomplete (joined
        /// mid-frame, or after a wrong end-of-frame hint) and is dropped.
        var hasFirstSlice = false
        var broken = false
        var vps: [ByteBuffer] = []
        var sps: [ByteBuffer] = []
        var pps: [ByteBuffer] = []
        var startOffset: Int64
        var arrival: Int64
    }

    public init(codec: CodecID? = nil, maxBytes: Int = 8 << 20) {
        self.codec = codec
        self.maxBytes = maxBytes
    }

    /// Total bytes appended so far (the offset the next byte will have).
    public var esOffset: Int64 { consumed + Int64(buffer.readableBytes) }

    /// Sets the codec (from a stream map); a change drops partial data.
    public mutating func setCodec(_ codec: CodecID?) {
        guard codec != self.codec else { return }
        self.codec = codec
        reset()
    }

    public mutating func clearHintsJustDistrusted() { hintsJustDistrusted = false }

    /// Pictures dropped because their first slice never arrived (joined mid-frame, data lost).
    public private(set) var brokenPictures: UInt64 = 0

    /// Whether data of an access unit not yet emitted is held (what `reset` would drop).
    private var hasPartialFrame: Bool { current?.hasVCL == true || (inNAL && tailIsVCL) }

    /// Data after what was appended is lost. A frame that an end-of-frame hint closed right at
    /// the end of the data (the RTP marker came, then the loss) is complete: it is emitted even
    /// while hints are still being checked. Any other partial frame is dropped (`reset`);
    /// returns whether there was one.
    public mutating func loss(arrival: Int64, into out: inout [VideoAccessUnit]) -> Bool {
        if hintTrust != .distrusted, case .probe(let h) = check, h == buffer.readableBytes {
            check = .none
            do { try flush(arrival: arrival, into: &out) } catch {}
        }
        let dropped = hasPartialFrame
        reset()
        return dropped
    }

    /// Drops all partial data (after packet loss); the codec stays.
    public mutating func reset() {
        consumed += Int64(buffer.readableBytes)
        buffer.clear()
        inNAL = false
        scanFrom = 0
        current = nil
        check = .none
        tailIsVCL = false
    }

    public mutating func append(_ data: ByteBuffer, arrival: Int64, into out: inout [VideoAccessUnit]) throws {
        if buffer.readableBytes == 0 { buffer.clear() }
        var data = data
        buffer.writeBuffer(&data)
        try scan(arrival: arrival, final: false, into: &out)
    }

    /// A hint that the data so far ends a frame (see the type's notes on how hints are trusted).
    public mutating func endOfFrame(arrival: Int64, into out: inout [VideoAccessUnit]) throws {
        guard codec != nil, inNAL, (current?.hasVCL ?? false) || tailIsVCL else { return }
        switch hintTrust {
        case .distrusted:
            return
        case .probing:
            if case .none = check { check = .probe(offset: buffer.readableBytes) }
        case .trusted:
            try flush(arrival: arrival, into: &out)
            check = .afterFlush
        }
    }

    /// The end of the input: the pending NAL unit is complete; emit its access unit.
    public mutating func flush(arrival: Int64, into out: inout [VideoAccessUnit]) throws {
        try scan(arrival: arrival, final: true, into: &out)
        if inNAL {
            let end = trimmedEnd(buffer.readableBytes)
            if end > 0, let nal = buffer.getSlice(at: buffer.readerIndex, length: end) { try complete(nal) }
            consumed += Int64(buffer.readableBytes)
            buffer.clear()
            inNAL = false
            scanFrom = 0
            tailIsVCL = false
        }
        if let au = current, au.hasVCL {
            emit(into: &out)
        }
    }

    /// The caller found a hint wrong by itself (a hint in the middle of a PES).
    public mutating func distrustHints() {
        guard hintTrust != .distrusted else { return }
        hintsWrong()
    }

    private mutating func hintsWrong() {
        hintTrust = .distrusted
        hintsJustDistrusted = true
        check = .none
    }

    /// A start code was found at `at` and the NAL unit after it is of `kind`: does that agree
    /// with a pending hint?
    private mutating func verifyHint(startCodeAt at: Int, kind: Kind?) {
        let beginsAU = kind == .begins || kind == .vclFirst
        switch check {
        case .none:
            return
        case .probe(let h):
            if at >= h {
                if allZero(from: h, to: at) && beginsAU {
                    check = .none
                    if case .probing(let n) = hintTrust {
                        hintTrust = n + 1 >= Self.hintConfirmations ? .trusted : .probing(confirmed: n + 1)
                    }
                } else {
                    hintsWrong()
                }
            } else if at + 3 > h {
                hintsWrong()  // the hint fell inside a start code
            } else {
                check = .probe(offset: h - (at + 3))  // an earlier start code; the reader moves past it
            }
        case .afterFlush:
            if allZero(from: 0, to: at) && beginsAU { check = .none } else { hintsWrong() }
        }
    }

    // MARK: scanning

    private mutating func scan(arrival: Int64, final: Bool, into out: inout [VideoAccessUnit]) throws {
        let lookahead = codec == .h264 ? 2 : 3
        while true {
            guard let at = findStartCode(from: scanFrom) else {
                if inNAL {
                    scanFrom = max(0, buffer.readableBytes - 2)
                    if buffer.readableBytes > maxBytes {
                        throw PSError.frameTooLarge(bytes: buffer.readableBytes, limit: maxBytes)
                    }
                    if case .probe(let h) = check, buffer.readableBytes >= h + 4, scanFrom <= h {
                        hintsWrong()  // no start code where the hint said the frame ended
                    }
                } else {
                    // Bytes before any start code: the tail of a frame we joined late, or junk.
                    let junk = max(0, buffer.readableBytes - 2)
                    if case .afterFlush = check, !allZero(from: 0, to: junk) { hintsWrong() }
                    buffer.moveReaderIndex(forwardBy: junk)
                    consumed += Int64(junk)
                    scanFrom = 0
                }
                break
            }
            let headerAt = at + 3
            let available = buffer.readableBytes - headerAt
            if available < lookahead && !final {
                scanFrom = at
                break
            }
            let header = buffer.getBytes(at: buffer.readerIndex + headerAt, length: min(available, lookahead)) ?? []
            if codec == nil, !header.isEmpty, let inferred = Self.inferCodec(header) {
                codec = inferred
            }
            let kind = codec.flatMap { c in header.isEmpty ? nil : Self.classify(header, codec: c) }
            verifyHint(startCodeAt: at, kind: kind)
            if inNAL {
                let end = trimmedEnd(at)
                if end > 0, let nal = buffer.getSlice(at: buffer.readerIndex, length: end) { try complete(nal) }
            }
            if let kind { nalStarts(kind, offset: consumed + Int64(headerAt), arrival: arrival, into: &out) }
            tailIsVCL = kind == .vclFirst || kind == .vclContinuing
            buffer.moveReaderIndex(forwardBy: headerAt)
            consumed += Int64(headerAt)
            inNAL = true
            scanFrom = 0
            if buffer.readerIndex > 64 << 10 && buffer.readerIndex > buffer.readableBytes {
                buffer.discardReadBytes()
            }
        }
    }

    /// A NAL unit starts (its first header bytes are known): close the access unit if it begins a
    /// new one, and start the next.
    private mutating func nalStarts(_ kind: Kind, offset: Int64, arrival: Int64, into out: inout [VideoAccessUnit]) {
        if let au = current, au.hasVCL, kind != .continues && kind != .vclContinuing {
            emit(into: &out)
        }
        var au = current ?? Build(payload: ByteBuffer(), startOffset: offset, arrival: arrival)
        current = nil  // `au` holds the only reference: no copy of its payload
        if kind == .vclFirst {
            au.hasFirstSlice = true
        } else if kind == .vclContinuing && !au.hasFirstSlice {
            au.broken = true
        }
        current = au
    }

    /// A complete NAL unit (no start code, trailing zeros removed): copied into the access unit.
    private mutating func complete(_ nal: ByteBuffer) throws {
        guard let codec, var au = current, let first = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { return }
        current = nil
        defer { current = au }
        switch codec {
        case .h264:
            let type = first & 0x1F
            switch type {
            case 9, 12: return  // access unit delimiter, filler
            case 7: Self.keep(nal, in: &au.sps)
            case 8: Self.keep(nal, in: &au.pps)
            case 1...4: au.hasVCL = true
            case 5: au.hasVCL = true; au.isKey = true
            default: break
            }
        case .h265:
            let type = first >> 1 & 0x3F
            switch type {
            case 35, 38: return  // access unit delimiter, filler
            case 32: Self.keep(nal, in: &au.vps)
            case 33: Self.keep(nal, in: &au.sps)
            case 34: Self.keep(nal, in: &au.pps)
            case 16...21: au.hasVCL = true; au.isKey = true
            case 0...31: au.hasVCL = true
            default: break
            }
        default:
            return
        }
        let size = au.payload.readableBytes + 4 + nal.readableBytes
        guard size <= maxBytes, let length = UInt32(exactly: nal.readableBytes) else {
            throw PSError.frameTooLarge(bytes: size, limit: maxBytes)
        }
        au.payload.writeInteger(length)
        var nal = nal
        au.payload.writeBuffer(&nal)
    }

    /// Parameter sets kept per access unit; real streams send one or a few. Without a cap, a
    /// frame of millions of 1-byte "parameter sets" would cost a heap buffer each.
    static let maxParameterSets = 16

    private static func keep(_ nal: ByteBuffer, in sets: inout [ByteBuffer]) {
        guard sets.count < maxParameterSets else { return }
        sets.append(ByteBuffer(bytes: nal.readableBytesView))
    }

    private mutating func emit(into out: inout [VideoAccessUnit]) {
        guard let au = current, let codec else { return }
        current = nil
        guard au.hasVCL else { return }
        guard !au.broken else {
            brokenPictures &+= 1
            return
        }
        out.append(VideoAccessUnit(codec: codec, payload: au.payload, isKey: au.isKey, vps: au.vps, sps: au.sps,
                                   pps: au.pps, startOffset: au.startOffset, arrival: au.arrival))
    }

    // MARK: NAL header inspection

    enum Kind {
        /// Always begins an access unit once the current one has a picture (parameter sets,
        /// SEI, AUD, prefix units).
        case begins
        /// The first slice of a picture.
        case vclFirst
        /// A further slice of the current picture.
        case vclContinuing
        /// Belongs to the current access unit (suffix SEI, end of sequence, filler …).
        case continues
    }

    static func classify(_ h: [UInt8], codec: CodecID) -> Kind {
        switch codec {
        case .h264:
            let type = h[0] & 0x1F
            switch type {
            case 1...5:
                guard h.count >= 2 else { return .vclContinuing }
                return h[1] & 0x80 != 0 ? .vclFirst : .vclContinuing  // first_mb_in_slice == 0
            case 6...9, 13...18: return .begins
            default: return .continues
            }
        case .h265:
            let type = h[0] >> 1 & 0x3F
            switch type {
            case 0...31:
                guard h.count >= 3 else { return .vclContinuing }
                return h[2] & 0x80 != 0 ? .vclFirst : .vclContinuing  // first_slice_segment_in_pic_flag
            case 32...35, 39, 41...44, 48...55: return .begins
            default: return .continues
            }
        default:
            return .continues
        }
    }

    /// H.265 VPS/SPS or H.264 SPS headers; nothing else is unambiguous.
    static func inferCodec(_ h: [UInt8]) -> CodecID? {
        if h.count >= 2, (h[0] == 0x40 || h[0] == 0x42), h[1] == 0x01 { return .h265 }
        if h[0] & 0x9F == 0x07 { return .h264 }
        return nil
    }

    // MARK: helpers

    private func trimmedEnd(_ end: Int) -> Int {
        var e = end
        while e > 0, buffer.getInteger(at: buffer.readerIndex + e - 1, as: UInt8.self) == 0 { e -= 1 }
        return e
    }

    private func allZero(from start: Int, to end: Int) -> Bool {
        guard end > start else { return true }
        return buffer.withUnsafeReadableBytes { p in !p[start..<min(end, p.count)].contains { $0 != 0 } }
    }

    /// Offset of the next `00 00 01` at or after `start`.
    private func findStartCode(from start: Int) -> Int? {
        AnnexB.findStartCode(in: buffer, from: start)
    }
}
