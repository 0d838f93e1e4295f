/// Extends a wrapping counter (32-bit RTP timestamps, 33-bit MPEG PTS/DTS) to 64 bits.
///
/// Each value is placed at the position nearest the previous one, modulo 2^bits, so both a wrap
/// (…FFFF → 0003) and the small backward steps of B-frame PTS are followed correctly. The first
/// value is taken as is.
///
/// Nothing a peer sends can make it trap: a sender that keeps stepping half the range one way
/// (0, 2^32, 0, … for 33 bits) walks the result by 2^32 a packet, so once it leaves
/// ±`limit` it is re-anchored at the raw value, a jump the caller's discontinuity policy
/// (`PSClock`) treats like any other.
public struct TimestampUnwrapper: Sendable {
    public let bits: Int
    private let modulus: Int64
    private var last: Int64?
    /// Results stay within ±2^61, so callers may add and subtract a few of them safely.
    static let limit: Int64 = 1 << 61

    /// `bits` is clamped to 1...60 (a compile-time constant at every call site).
    public init(bits: Int) {
        self.bits = min(max(bits, 1), 60)
        self.modulus = Int64(1) << self.bits
    }

    /// Continues from `last` (tests of the bound).
    init(bits: Int, last: Int64) {
        self.init(bits: bits)
        self.last = last
    }

    public var lastValue: Int64? { last }

    public mutating func unwrap(_ raw: UInt64) -> Int64 {
        let mask = modulus - 1
        let value = Int64(truncatingIfNeeded: raw) & mask
        guard let last else {
            self.last = value
            return value
        }
        var delta = (value &- (last & mask)) & mask
        if delta >= modulus / 2 { delta -= modulus }
        var unwrapped = last &+ delta
        if unwrapped > Self.limit || unwrapped < -Self.limit { unwrapped = value }
        self.last = unwrapped
        return unwrapped
    }

    public mutating func reset() { last = nil }
}
