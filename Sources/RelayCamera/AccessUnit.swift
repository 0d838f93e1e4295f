import NIOCore
import RelayCore

/// One coded picture as the encoder handed it out: its NAL units (slices of the read buffer, no
/// start codes) in decoding order, with the parameter sets and SEI that precede the picture.
public struct AccessUnit: Sendable {
    public var codec: CodecID
    public var nals: [ByteBuffer]
    /// Contains an IDR (H.264) or IRAP (H.265) picture.
    public var isKeyFrame: Bool

    public init(codec: CodecID, nals: [ByteBuffer]) {
        self.codec = codec
        self.nals = nals
        self.isKeyFrame = nals.contains { NALKind.classify($0, codec: codec) == .keyVCL }
    }

    /// Payload bytes (without start codes or length prefixes).
    public var byteCount: Int { nals.reduce(0) { $0 + $1.readableBytes } }

    /// The access unit in the length-prefixed (AVCC/HVCC, 4-byte lengths) form RTMP and FLV carry.
    /// Access unit delimiters are left out. With `stampMicros`, a capture-time SEI
    /// (`CaptureStamp`) is put before the first VCL NAL unit.
    public func lengthPrefixed(stampMicros: Int64? = nil,
                               allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        let sei = stampMicros.map { CaptureStamp.seiNAL(codec: codec, captureMicros: $0) }
        var out = allocator.buffer(capacity: byteCount + 4 * nals.count + (sei.map { $0.count + 4 } ?? 0))
        var stamped = sei == nil
        for nal in nals {
            let kind = NALKind.classify(nal, codec: codec)
            if kind == .delimiter { continue }
            if !stamped, kind.isVCL, let sei {
                out.writeInteger(UInt32(sei.count))
                out.writeBytes(sei)
                stamped = true
            }
            out.writeInteger(UInt32(nal.readableBytes))
            out.writeImmutableBuffer(nal)
        }
        return out
    }
}

/// What a NAL unit means for access-unit splitting (H.264 7.4.1.2.3, H.265 7.4.2.4.4).
public enum NALKind: Sendable, Equatable {
    case delimiter
    /// VPS/SPS/PPS.
    case parameterSet
    /// NAL units that, after a picture, start the next access unit (prefix SEI, H.264 SEI,
    /// prefix/subset-SPS/reserved types).
    case prefix
    /// A slice of a non-key picture; `firstSlice` is true for the picture's first slice.
    case vcl(firstSlice: Bool)
    /// A slice of an IDR/IRAP picture (H.264 IDR slices always; checked for `firstSlice` apart).
    case keyVCL
    /// Belongs to the access unit it follows (suffix SEI, end of sequence, filler, partitions B/C …).
    case trailing
    case empty

    public var isVCL: Bool {
        switch self {
        case .vcl, .keyVCL: true
        default: false
        }
    }

    public static func classify(_ nal: ByteBuffer, codec: CodecID) -> NALKind {
        guard let header = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { return .empty }
        if codec == .h265 {
            let type = (header >> 1) & 0x3F
            switch type {
            case 0...31: return (16...23).contains(type) ? .keyVCL : .vcl(firstSlice: isFirstSlice(nal, codec: codec))
            case 32, 33, 34: return .parameterSet
            case 35: return .delimiter
            case 39, 41...44, 48...55: return .prefix
            default: return .trailing  // 36 EOS, 37 EOB, 38 filler, 40 suffix SEI, 45-47, 56-63
            }
        }
        let type = header & 0x1F
        switch type {
        case 1, 2: return .vcl(firstSlice: isFirstSlice(nal, codec: codec))
        case 5: return .keyVCL
        case 7, 8: return .parameterSet
        case 9: return .delimiter
        case 6, 13, 14, 15, 16, 17, 18: return .prefix
        default: return .trailing  // 3/4 partitions B/C, 10 EOS, 11 EOSTREAM, 12 filler, 19, 20 …
        }
    }

    /// first_mb_in_slice == 0 (H.264: the ue(v) right after the 1-byte header is the single bit
    /// 1) or first_slice_segment_in_pic_flag (H.265: the first bit after the 2-byte header).
    public static func isFirstSlice(_ nal: ByteBuffer, codec: CodecID) -> Bool {
        let offset = codec == .h265 ? 2 : 1
        guard let byte = nal.getInteger(at: nal.readerIndex + offset, as: UInt8.self) else { return false }
        return byte & 0x80 != 0
    }
}

/// Groups a stream of NAL units into access units. Feed NAL units in order; an access unit is
/// returned when the first NAL unit of the next one arrives (or at `flush`).
public struct AccessUnitSplitter: Sendable {
    public let codec: CodecID
    private var current: [ByteBuffer] = []
    private var hasVCL = false

    public init(codec: CodecID) {
        self.codec = codec
    }

    public mutating func push(_ nal: ByteBuffer) -> AccessUnit? {
        let kind = NALKind.classify(nal, codec: codec)
        if kind == .empty { return nil }
        let startsNew: Bool
        switch kind {
        case .delimiter:
            startsNew = !current.isEmpty
        case .parameterSet, .prefix:
            startsNew = hasVCL
        case .vcl(let first):
            startsNew = hasVCL && first
        case .keyVCL:
            startsNew = hasVCL && NALKind.isFirstSlice(nal, codec: codec)
        case .trailing, .empty:
            startsNew = false
        }
        var finished: AccessUnit?
        if startsNew {
            finished = AccessUnit(codec: codec, nals: current)
            current.removeAll(keepingCapacity: true)
            hasVCL = false
        }
        current.append(nal)
        if kind.isVCL { hasVCL = true }
        return finished
    }

    /// The last access unit, at the end of the input (nil if it has no picture).
    public mutating func flush() -> AccessUnit? {
        defer {
            current.removeAll()
            hasVCL = false
        }
        return hasVCL ? AccessUnit(codec: codec, nals: current) : nil
    }
}

/// Finds NAL units in an Annex-B byte stream that arrives in pieces. Bytes are appended with
/// `append`; `next()` returns each NAL unit once the start code after it has been seen, as a
/// slice of the input (no copy). `finish()` returns the last one at end of input.
public struct AnnexBScanner: Sendable {
    private var buffer: ByteBuffer
    /// Index (absolute, in `buffer`) of the payload of the NAL unit being collected.
    private var nalStart: Int?
    /// Where the start-code search continues.
    private var scanFrom: Int

    public init(allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        buffer = allocator.buffer(capacity: 0)
        scanFrom = buffer.readerIndex
    }

    /// Bytes held for the NAL unit not yet complete.
    public var pendingBytes: Int { buffer.writerIndex - (nalStart ?? scanFrom) }

    /// Appends input. The pending tail is moved into a fresh buffer together with the new bytes,
    /// so slices already handed out keep their storage and the buffer does not grow without end.
    public mutating func append(_ bytes: ByteBuffer) {
        reserveAndWrite(minimumWritable: bytes.readableBytes) { $0.writeImmutableBuffer(bytes) }
    }

    /// Lets a reader fill the buffer in place (e.g. `read(2)` into it): `fill` gets a buffer to
    /// write at least `capacity` bytes into.
    public mutating func append(capacity: Int, _ fill: (inout ByteBuffer) throws -> Void) rethrows {
        try reserveAndWrite(minimumWritable: capacity, fill)
    }

    private mutating func reserveAndWrite(minimumWritable: Int, _ fill: (inout ByteBuffer) throws -> Void) rethrows {
        let keep = nalStart ?? scanFrom
        let tail = buffer.writerIndex - keep
        if keep > buffer.readerIndex || buffer.writableBytes < minimumWritable {
            var fresh = ByteBufferAllocator().buffer(capacity: tail + max(minimumWritable, 64 << 10))
            if tail > 0, let slice = buffer.getSlice(at: keep, length: tail) { fresh.writeImmutableBuffer(slice) }
            let shift = keep - fresh.readerIndex
            nalStart = nalStart.map { $0 - shift }
            scanFrom -= shift
            buffer = fresh
        }
        try fill(&buffer)
    }

    /// The next complete NAL unit, or nil if more input is needed.
    public mutating func next() -> ByteBuffer? {
        while let code = findStartCode() {
            let previous = nalStart
            nalStart = code + 3
            scanFrom = code + 3
            if let previous, let nal = trimmedSlice(from: previous, to: code) { return nal }
        }
        return nil
    }

    /// At end of input: the NAL unit still being collected, if any.
    public mutating func finish() -> ByteBuffer? {
        defer {
            nalStart = nil
            scanFrom = buffer.writerIndex
        }
        guard let start = nalStart else { return nil }
        return trimmedSlice(from: start, to: buffer.writerIndex)
    }

    /// Absolute index of the next "00 00 01" at or after `scanFrom`, or nil (then `scanFrom`
    /// moves to where a start code split across appends could still begin).
    private mutating func findStartCode() -> Int? {
        let base = buffer.readerIndex
        let from = scanFrom - base
        let found = AnnexB.findStartCode(in: buffer, from: from)
        if let found { return base + found }
        scanFrom = max(scanFrom, buffer.writerIndex - 2)
        return nil
    }

    /// The bytes in start..<end without trailing zero bytes (a 4-byte start code's leading zero,
    /// trailing_zero_8bits); nil if nothing is left.
    private func trimmedSlice(from start: Int, to end: Int) -> ByteBuffer? {
        var end = end
        while end > start, buffer.getInteger(at: end - 1, as: UInt8.self) == 0 { end -= 1 }
        guard end > start else { return nil }
        return buffer.getSlice(at: start, length: end - start)
    }
}
