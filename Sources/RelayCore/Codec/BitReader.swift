import NIOCore

/// Big-endian bit reader over an RBSP (emulation-prevention bytes removed), with the
/// exp-Golomb codes H.264/H.265 parameter sets use. Parameter sets are tiny, so copying
/// them into an array once keeps the reader simple and bounds-checked.
public struct BitReader: Sendable {
    public let bytes: [UInt8]
    /// Bits consumed so far.
    public private(set) var position: Int = 0

    /// Reads `bytes` as they are (already RBSP).
    public init(rbsp bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads a NAL unit payload, stripping each 0x03 that follows two zero bytes.
    public init(nal: ByteBuffer) {
        self.bytes = BitReader.rbsp(nal)
    }

    /// Removes emulation-prevention bytes (0x00 0x00 0x03 → 0x00 0x00).
    public static func rbsp(_ nal: ByteBuffer) -> [UInt8] {
        rbsp(nal.readableBytesView)
    }

    /// Removes emulation-prevention bytes (0x00 0x00 0x03 → 0x00 0x00).
    public static func rbsp(_ payload: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count)
        var zeros = 0
        for byte in payload {
            if zeros >= 2 && byte == 0x03 {
                zeros = 0
                continue
            }
            out.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return out
    }

    public var bitsLeft: Int { bytes.count * 8 - position }

    public mutating func bit() throws -> Bool {
        try bits(1) == 1
    }

    /// Reads `count` (0...64) bits as an unsigned big-endian value; another count throws (counts
    /// may come from the bitstream itself).
    public mutating func bits(_ count: Int) throws -> UInt64 {
        guard (0...64).contains(count) else { throw CodecError.invalid("bitstream: cannot read \(count) bits at once") }
        guard count <= bitsLeft else {
            throw CodecError.truncated("bitstream: need \(count) bits at bit \(position), \(bitsLeft) left")
        }
        var value: UInt64 = 0
        for _ in 0..<count {
            let byte = bytes[position >> 3]
            let bit = (byte >> (7 - UInt8(position & 7))) & 1
            value = (value << 1) | UInt64(bit)
            position += 1
        }
        return value
    }

    /// Reads `count` bits as an Int (count ≤ 32, so it always fits).
    public mutating func int(_ count: Int) throws -> Int {
        guard count <= 32 else { throw CodecError.invalid("bitstream: \(count) bits do not fit an Int field") }
        return Int(try bits(count))
    }

    public mutating func skip(_ count: Int) throws {
        guard count >= 0, count <= bitsLeft else {
            throw CodecError.truncated("bitstream: cannot skip \(count) bits at bit \(position), \(bitsLeft) left")
        }
        position += count
    }

    /// Unsigned exp-Golomb ue(v); values need at most 32 bits, longer prefixes are corrupt data.
    public mutating func ue() throws -> Int {
        var leadingZeros = 0
        while try !bit() {
            leadingZeros += 1
            if leadingZeros > 31 {
                throw CodecError.invalid("exp-Golomb code: more than 31 leading zero bits at bit \(position)")
            }
        }
        return (1 << leadingZeros) - 1 + Int(try bits(leadingZeros))
    }

    /// Signed exp-Golomb se(v): 1, -1, 2, -2, … for codeNum 1, 2, 3, 4, …
    public mutating func se() throws -> Int {
        let k = try ue()
        return k & 1 == 1 ? (k + 1) / 2 : -(k / 2)
    }
}
