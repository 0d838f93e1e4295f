#if canImport(Glibc)
import Glibc
#endif

/// The pipeline targets' input: a byte stream with one escape, so a small input can stand for
/// the long floods that some defects need (millions of tiny messages, an 8 MiB frame of 1-byte
/// NAL units, 100 k timestamp pairs):
///
///     FE FD cc cc ll ll <ll ll bytes>   the bytes, repeated cc cc times (big-endian counts)
///     FE FD 00 00                       a literal FE FD
///
/// Anything else is literal. The expanded stream stops at `limit` bytes.
public struct Expander {
    private let input: [UInt8]
    private var position: Int
    private var unit: ArraySlice<UInt8> = []
    private var repeatsLeft = 0
    private var offset = 0
    public private(set) var produced = 0
    public let limit: Int

    public init(_ input: [UInt8], from start: Int = 0, limit: Int = 8 << 20) {
        self.input = input
        self.position = min(start, input.count)
        self.limit = limit
    }

    public var isAtEnd: Bool { produced >= limit || (repeatsLeft == 0 && position >= input.count) }

    /// Up to `n` more bytes of the expanded stream (fewer only at its end).
    public mutating func take(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(n, limit - produced))
        while out.count < n && produced < limit {
            if repeatsLeft > 0 {
                let k = min(n - out.count, unit.count - offset, limit - produced)
                let start = unit.startIndex + offset
                out.append(contentsOf: unit[start..<start + k])
                produced += k
                offset += k
                if offset == unit.count {
                    offset = 0
                    repeatsLeft -= 1
                }
                continue
            }
            guard position < input.count else { break }
            if input[position] == 0xFE, position + 3 < input.count, input[position + 1] == 0xFD {
                let count = Int(input[position + 2]) << 8 | Int(input[position + 3])
                if count == 0 {
                    position += 4
                    appendLiteral([0xFE, 0xFD], into: &out)
                    continue
                }
                guard position + 5 < input.count else {
                    position = input.count
                    break
                }
                let length = Int(input[position + 4]) << 8 | Int(input[position + 5])
                let start = position + 6
                let end = min(start + length, input.count)
                position = end
                if end > start {
                    unit = input[start..<end]
                    repeatsLeft = count
                    offset = 0
                }
                continue
            }
            // A literal run up to the next escape candidate.
            var end = position + 1
            while end < input.count && input[end] != 0xFE && end - position < n - out.count { end += 1 }
            appendLiteral(input[position..<end], into: &out)
            position = end
        }
        return out
    }

    private mutating func appendLiteral<C: Collection>(_ bytes: C, into out: inout [UInt8]) where C.Element == UInt8 {
        let k = min(bytes.count, limit - produced)
        out.append(contentsOf: bytes.prefix(k))
        produced += k
    }
}

/// Splits the expanded stream into reads the way `Splitter` does (the first input byte seeds
/// the read sizes).
public struct ExpandedReads {
    public var expander: Expander
    private var state: UInt64

    /// Expanded bytes per input: FUZZ_EXPAND_LIMIT, default 512 KiB (enough for floods of small
    /// messages; fuzzing slowed to tens of executions/s when many corpus entries expanded to
    /// megabytes: ~0.3 ms per read). The trigger replays set 8 MiB (a 7 MB frame).
    public static let defaultLimit: Int = {
        guard let text = getenv("FUZZ_EXPAND_LIMIT"), let n = Int(String(cString: text)), n > 0 else { return 512 << 10 }
        return n
    }()

    public init(_ data: [UInt8], limit: Int = ExpandedReads.defaultLimit) {
        self.state = UInt64(data.first ?? 0) &* 0x9E37_79B9_7F4A_7C15 | 1
        self.expander = Expander(data, from: 1, limit: limit)
    }

    /// A number from the read-size generator (also used for harness decisions).
    public mutating func random() -> Int {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Int(truncatingIfNeeded: state & 0xFFFF)
    }

    public mutating func next() -> [UInt8]? {
        guard !expander.isAtEnd else { return nil }
        let r = random()
        let n = r % 8 == 0 ? 1 + r % 4096 : 1 + r % 64
        let bytes = expander.take(n)
        return bytes.isEmpty ? nil : bytes
    }
}
