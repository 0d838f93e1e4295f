#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Annex-B byte streams (start-code delimited NAL units) and the length-prefixed form the
/// relay carries internally (`AVPacket` payloads are 4-byte-length-prefixed).
public enum AnnexB {
    /// Splits an Annex-B buffer at 3- and 4-byte start codes into NAL unit slices (no start
    /// code, trailing zero bytes removed, empty units dropped). Bytes before the first start
    /// code are dropped; a buffer with no start code at all is taken as one bare NAL unit, since
    /// some sources hand over single NAL units without one.
    public static func split(_ buffer: ByteBuffer) -> [ByteBuffer] {
        // (payload start, payload end) pairs, relative to readerIndex.
        let ranges: [(Int, Int)] = buffer.withUnsafeReadableBytes { bytes in
            let n = bytes.count
            var starts: [(code: Int, payload: Int)] = []
            var i = 0
            while let at = findStartCode(in: bytes, from: i) {
                starts.append((at, at + 3))
                i = at + 3
            }
            guard !starts.isEmpty else { return [(0, n)] }
            var out: [(Int, Int)] = []
            for (k, s) in starts.enumerated() {
                var end = k + 1 < starts.count ? starts[k + 1].code : n
                while end > s.payload && bytes[end - 1] == 0 { end -= 1 }
                out.append((s.payload, end))
            }
            return out
        }
        var nals: [ByteBuffer] = []
        nals.reserveCapacity(ranges.count)
        for (start, end) in ranges {
            var end = end
            // The bare-NAL case did not trim trailing zeros inside the closure.
            while end > start, buffer.getInteger(at: buffer.readerIndex + end - 1, as: UInt8.self) == 0 { end -= 1 }
            if end > start, let slice = buffer.getSlice(at: buffer.readerIndex + start, length: end - start) {
                nals.append(slice)
            }
        }
        return nals
    }

    /// Offset of the first `00 00 01` at or after `start`, or nil: the one start-code scanner
    /// (Annex-B NAL units, MPEG-PS start codes, the assemblers of RTP, the camera and JT/T 1078
    /// all call it). memchr finds each 0x01 (vectorized), then the two zeros before it are checked.
    public static func findStartCode(in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        let n = bytes.count
        let from = max(start, 0)
        guard let base = bytes.baseAddress, from < n else { return nil }
        var one = from + 2  // where the 0x01 of a start code at `from` would be
        while one < n {
            guard let hit = memchr(base + one, 1, n - one) else { return nil }
            let at = base.distance(to: UnsafeRawPointer(hit))
            if bytes[at - 1] == 0 && bytes[at - 2] == 0 { return at - 2 }  // at ≥ start + 2 ≥ 2
            one = at + 1
        }
        return nil
    }

    /// `findStartCode` over a buffer's readable bytes (offsets from the reader index).
    public static func findStartCode(in buffer: ByteBuffer, from start: Int = 0) -> Int? {
        buffer.withUnsafeReadableBytes { findStartCode(in: $0, from: start) }
    }

    /// The length of the start code the buffer begins with: 3 (`00 00 01`), 4 (`00 00 00 01`)
    /// or 0 (none).
    public static func leadingStartCodeLength(_ buffer: ByteBuffer) -> Int {
        buffer.withUnsafeReadableBytes { bytes in
            let head = UnsafeRawBufferPointer(rebasing: bytes.prefix(4))
            switch findStartCode(in: head) {
            case 0: return 3
            case 1 where head[0] == 0: return 4
            default: return 0
            }
        }
    }

    /// Appends each NAL unit prefixed by its 4-byte big-endian length.
    public static func writeLengthPrefixed(_ nals: [ByteBuffer], into out: inout ByteBuffer) {
        for nal in nals {
            out.writeInteger(UInt32(truncatingIfNeeded: nal.readableBytes))  // ByteBuffers hold < 4 GiB
            out.writeImmutableBuffer(nal)
        }
    }

    /// The NAL units as one 4-byte-length-prefixed buffer (the `AVPacket` payload form).
    public static func lengthPrefixed(_ nals: [ByteBuffer],
                                      allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var out = allocator.buffer(capacity: nals.reduce(0) { $0 + 4 + $1.readableBytes })
        writeLengthPrefixed(nals, into: &out)
        return out
    }

    /// Annex-B → length-prefixed in one step.
    public static func toLengthPrefixed(_ annexB: ByteBuffer,
                                        allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        lengthPrefixed(split(annexB), allocator: allocator)
    }

    /// All NAL units of a length-prefixed buffer as slices; throws if a length overruns.
    public static func nalUnits(lengthPrefixed buffer: ByteBuffer, lengthSize: Int = 4) throws -> [ByteBuffer] {
        var it = LengthPrefixedNALIterator(buffer, lengthSize: lengthSize)
        var out: [ByteBuffer] = []
        while let nal = try it.next() { out.append(nal) }
        return out
    }

    /// Rewrites a buffer whose NAL lengths are `lengthSize` bytes to 4-byte lengths (records
    /// may declare 1 or 2; the relay's payloads always use 4). Empty NAL units are dropped: with
    /// 1-byte lengths they would make the output 4 times the input (found by FuzzRTMPChunk).
    ///
    /// Linear and allocation-bounded: a first pass only measures (no per-NAL array), and a
    /// result longer than `maxOutputBytes` throws before anything is allocated. One-byte NAL
    /// units with 1-byte lengths grow 2.5x, so an 8 MiB frame would need 21 MB: past what RTMP
    /// and FLV (24-bit message/tag sizes) can carry, and what a muxer may have to copy.
    public static func normalizedLengthPrefix(_ buffer: ByteBuffer, lengthSize: Int, maxOutputBytes: Int = Int.max,
                                              allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        if lengthSize == 4 { return buffer }
        let lengthSize = min(max(lengthSize, 1), 4)
        // Raw byte loops, not a ByteBuffer slice per NAL: millions of tiny NAL units must cost
        // milliseconds, not the event loop's next second.
        let outputBytes: Int = try buffer.withUnsafeReadableBytes { bytes throws(CodecError) -> Int in
            var i = 0
            var total = 0
            while i < bytes.count {
                guard bytes.count - i >= lengthSize else {
                    throw .truncated("NAL length prefix: \(bytes.count - i) bytes left, need \(lengthSize)")
                }
                var length = 0
                for k in 0..<lengthSize { length = length << 8 | Int(bytes[i + k]) }
                i += lengthSize
                guard length <= bytes.count - i else {
                    throw .truncated("NAL unit: length \(length) overruns the \(bytes.count - i) bytes left")
                }
                i += length
                guard length > 0 else { continue }
                total += 4 + length  // at most 4x the input: cannot overflow
                guard total <= maxOutputBytes else {
                    throw .invalid("NAL length rewrite: \(lengthSize)-byte lengths of a \(bytes.count)-byte frame "
                                   + "grow past \(maxOutputBytes) bytes as 4-byte lengths")
                }
            }
            return total
        }
        var out = allocator.buffer(capacity: outputBytes)
        _ = buffer.withUnsafeReadableBytes { src in
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: outputBytes) { dst in
                guard let from = src.baseAddress, let to = dst.baseAddress else { return 0 }
                var i = 0
                var o = 0
                while i + lengthSize <= src.count, o + 4 <= dst.count {  // validated above; the bounds only guard
                    var length = 0
                    for k in 0..<lengthSize { length = length << 8 | Int(src[i + k]) }
                    i += lengthSize
                    let n = min(length, src.count - i, dst.count - o - 4)
                    guard n > 0 else { continue }
                    dst.storeBytes(of: UInt32(truncatingIfNeeded: n).bigEndian, toByteOffset: o, as: UInt32.self)
                    (to + o + 4).copyMemory(from: from + i, byteCount: n)
                    o += 4 + n
                    i += n
                }
                return o
            }
        }
        return out
    }
}

/// Walks the NAL units of a length-prefixed (AVCC/HVCC) buffer as slices, without copying.
/// `next()` returns nil at the end and throws when a length runs past the buffer.
public struct LengthPrefixedNALIterator: Sendable {
    private var buffer: ByteBuffer
    public let lengthSize: Int

    /// `lengthSize` is 1, 2, 3 or 4 bytes; anything else is clamped into that range (records
    /// only yield 1...4, so this never changes a real stream, and it cannot trap).
    public init(_ buffer: ByteBuffer, lengthSize: Int = 4) {
        self.buffer = buffer
        self.lengthSize = min(max(lengthSize, 1), 4)
    }

    public mutating func next() throws -> ByteBuffer? {
        guard buffer.readableBytes > 0 else { return nil }
        guard buffer.readableBytes >= lengthSize else {
            throw CodecError.truncated("NAL length prefix: \(buffer.readableBytes) bytes left, need \(lengthSize)")
        }
        var length = 0
        for _ in 0..<lengthSize {
            length = length << 8 | Int(buffer.readInteger(as: UInt8.self) ?? 0)  // bytes checked above
        }
        guard let nal = buffer.readSlice(length: length) else {
            let left = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: left)  // stay failed: the rest is unusable
            throw CodecError.truncated("NAL unit: length \(length) overruns the \(left) bytes left")
        }
        return nal
    }

    /// True if a NAL unit of a 4-byte-length-prefixed access unit satisfies `predicate`.
    /// Malformed lengths end the scan rather than throw: this answers a yes/no question about a frame.
    public static func contains(in accessUnit: ByteBuffer, where predicate: (ByteBuffer) -> Bool) -> Bool {
        var it = LengthPrefixedNALIterator(accessUnit)
        while let nal = try? it.next() {
            if predicate(nal) { return true }
        }
        return false
    }
}
