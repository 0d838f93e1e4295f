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
            while i + 2 < n {
                if bytes[i + 2] > 1 {
                    i += 3  // no start code can span i...i+2
                } else if bytes[i] == 0 && bytes[i + 1] == 0 && bytes[i + 2] == 1 {
                    starts.append((i, i + 3))
                    i += 3
                } else {
                    i += 1
                }
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

    /// Appends each NAL unit prefixed by its 4-byte big-endian length.
    public static func writeLengthPrefixed(_ nals: [ByteBuffer], into out: inout ByteBuffer) {
        for nal in nals {
            out.writeInteger(UInt32(nal.readableBytes))
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
    public static func normalizedLengthPrefix(_ buffer: ByteBuffer, lengthSize: Int,
                                              allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        if lengthSize == 4 { return buffer }
        let nals = try nalUnits(lengthPrefixed: buffer, lengthSize: lengthSize).filter { $0.readableBytes > 0 }
        return lengthPrefixed(nals, allocator: allocator)
    }
}

/// Walks the NAL units of a length-prefixed (AVCC/HVCC) buffer as slices, without copying.
/// `next()` returns nil at the end and throws when a length runs past the buffer.
public struct LengthPrefixedNALIterator: Sendable {
    private var buffer: ByteBuffer
    public let lengthSize: Int

    /// `lengthSize` is 1, 2, 3 or 4 bytes.
    public init(_ buffer: ByteBuffer, lengthSize: Int = 4) {
        precondition((1...4).contains(lengthSize), "NAL length size must be 1...4 bytes")
        self.buffer = buffer
        self.lengthSize = lengthSize
    }

    public mutating func next() throws -> ByteBuffer? {
        guard buffer.readableBytes > 0 else { return nil }
        guard buffer.readableBytes >= lengthSize else {
            throw CodecError.truncated("NAL length prefix: \(buffer.readableBytes) bytes left, need \(lengthSize)")
        }
        var length = 0
        for _ in 0..<lengthSize {
            length = length << 8 | Int(buffer.readInteger(as: UInt8.self)!)
        }
        guard let nal = buffer.readSlice(length: length) else {
            let left = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: left)  // stay failed: the rest is unusable
            throw CodecError.truncated("NAL unit: length \(length) overruns the \(left) bytes left")
        }
        return nal
    }
}
