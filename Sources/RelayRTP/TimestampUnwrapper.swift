/// Extends a wrapping counter (32-bit RTP timestamps, 33-bit MPEG PTS/DTS) to 64 bits.
///
/// Each value is placed at the position nearest the previous one, modulo 2^bits, so both a wrap
/// (…FFFF → 0003) and the small backward steps of B-frame PTS are followed correctly. The first
/// value is taken as is.
public struct TimestampUnwrapper: Sendable {
    public let bits: Int
    private let modulus: Int64
    private var last: Int64?

    public init(bits: Int) {
        precondition((1...62).contains(bits), "timestamp width must be 1...62 bits")
        self.bits = bits
        self.modulus = Int64(1) << bits
    }

    public var lastValue: Int64? { last }

    public mutating func unwrap(_ raw: UInt64) -> Int64 {
        let mask = modulus - 1
        let value = Int64(truncatingIfNeeded: raw) & mask
        guard let last else {
            self.last = value
            return value
        }
        var delta = (value - (last & mask)) & mask
        if delta >= modulus / 2 { delta -= modulus }
        let unwrapped = last + delta
        self.last = unwrapped
        return unwrapped
    }

    public mutating func reset() { last = nil }
}
