import RelayRTP
import Testing

/// The time-based reorder buffer: gaps are waited for by time, the start settles on the lowest
/// sequence number, duplicates and late packets are told apart.
struct RTPReorderTimeTests {
    static let ms: Int64 = 1_000_000

    /// A buffer holding gaps for 100 ms and settling the start for `settle` ms, with what came out
    /// ("5" a packet, "-2" two lost, "-0" a resynchronization).
    struct Harness {
        var buffer: RTPReorderBuffer<UInt16>
        var out: [String] = []

        init(capacity: Int = 64, holdMs: Int64 = 100, settleMs: Int64 = 0, maxHeldBytes: Int = 4 << 20) {
            buffer = RTPReorderBuffer(capacity: capacity, holdNanos: holdMs * RTPReorderTimeTests.ms,
                                      settleNanos: settleMs * RTPReorderTimeTests.ms, maxHeldBytes: maxHeldBytes)
        }

        mutating func push(_ seq: UInt16, at ms: Int64, bytes: Int = 0) {
            var got: [String] = []
            buffer.push(seq, sequence: seq, now: ms * RTPReorderTimeTests.ms, bytes: bytes) { got.append(Self.text($0)) }
            out += got
        }

        mutating func expire(at ms: Int64) {
            var got: [String] = []
            buffer.expire(now: ms * RTPReorderTimeTests.ms) { got.append(Self.text($0)) }
            out += got
        }

        static func text(_ o: RTPReorderBuffer<UInt16>.Output) -> String {
            switch o {
            case .packet(let p): return "\(p)"
            case .loss(let n): return "-\(n)"
            }
        }
    }

    @Test func aGapIsWaitedForByTimeNotByCount() {
        var h = Harness()
        h.push(1, at: 0)
        h.push(2, at: 1)
        for s in UInt16(4)...40 { h.push(s, at: 2) }  // 37 packets behind the gap: still waiting
        #expect(h.out == ["1", "2"])
        #expect(h.buffer.deadline == 102 * Self.ms)
        h.expire(at: 101)
        #expect(h.out == ["1", "2"])
        h.expire(at: 102)
        #expect(h.out == ["1", "2", "-1"] + (4...40).map { "\($0)" })
        #expect(h.buffer.stats.lost == 1 && h.buffer.stats.reordered == 37 && h.buffer.deadline == nil)
    }

    @Test func aGapFilledInTimeLosesNothing() {
        var h = Harness()
        h.push(10, at: 0)
        h.push(12, at: 5)
        h.push(13, at: 6)
        h.push(11, at: 80)
        #expect(h.out == ["10", "11", "12", "13"])
        #expect(h.buffer.stats.lost == 0 && h.buffer.deadline == nil)
    }

    @Test func aLaterPacketsDeadlineIsItsOwn() {
        var h = Harness()
        h.push(1, at: 0)
        h.push(3, at: 0)   // gap at 2, due at 100
        h.push(2, at: 50)  // filled: 1, 2, 3 out
        h.push(5, at: 60)  // gap at 4, due at 160
        h.expire(at: 101)
        #expect(h.out == ["1", "2", "3"])
        h.expire(at: 160)
        #expect(h.out == ["1", "2", "3", "-1", "5"])
    }

    @Test func theFirstFivePacketsInReverseOrderStartAtTheLowest() {
        var h = Harness(settleMs: 50)
        for (i, s) in [UInt16](stride(from: 104, through: 100, by: -1)).enumerated() { h.push(s, at: Int64(i)) }
        #expect(h.out.isEmpty, "the start settles first")
        #expect(h.buffer.deadline == 50 * Self.ms)
        h.expire(at: 50)
        #expect(h.out == ["100", "101", "102", "103", "104"])
        h.push(105, at: 51)
        #expect(h.out.last == "105")
        #expect(h.buffer.stats.lost == 0 && h.buffer.stats.late == 0 && h.buffer.stats.reordered == 4)
    }

    @Test func theStartSettlesAcrossTheSequenceWrap() {
        var h = Harness(settleMs: 20)
        for s: UInt16 in [1, 65534, 0, 65535] { h.push(s, at: 0) }
        h.expire(at: 20)
        #expect(h.out == ["65534", "65535", "0", "1"])
    }

    @Test func aFullSettleWindowStartsAtOnce() {
        var h = Harness(capacity: 4, settleMs: 50)
        for s: UInt16 in [7, 6, 5, 4] { h.push(s, at: 0) }
        #expect(h.out == ["4", "5", "6", "7"])
    }

    @Test func duplicatesAndLatePacketsAreCountedApart() {
        var h = Harness()
        h.push(1, at: 0)
        h.push(2, at: 0)
        h.push(4, at: 0)
        h.expire(at: 100)       // 3 given up
        h.push(2, at: 101)      // a second copy of a delivered packet
        h.push(3, at: 102)      // too late
        h.push(4, at: 103)      // a second copy
        #expect(h.out == ["1", "2", "-1", "4"])
        #expect(h.buffer.stats.duplicates == 2 && h.buffer.stats.late == 1 && h.buffer.stats.lost == 1)
    }

    @Test func theByteBudgetGivesUpTheOldestGap() {
        var h = Harness(maxHeldBytes: 3000)
        h.push(1, at: 0, bytes: 1400)
        h.push(3, at: 1, bytes: 1400)
        h.push(4, at: 2, bytes: 1400)
        h.push(6, at: 3, bytes: 1400)  // 3 + 4 + 6 would be 4200 bytes: the gap at 2 goes
        #expect(h.out == ["1", "-1", "3", "4"])
        h.push(5, at: 4, bytes: 1400)
        #expect(h.out == ["1", "-1", "3", "4", "5", "6"])
    }

    @Test func reorderingWithinTheHoldTimeDeliversEverythingInOrder() {
        // 0.5 % of packets sent up to 20 ms late, at 180 packets a second, across the wrap.
        var h = Harness(capacity: 512, settleMs: 50)
        var rng: UInt64 = 42
        func next() -> UInt64 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return rng >> 33
        }
        var arrivals: [(seq: UInt16, at: Int64)] = []
        let first: UInt16 = 60000
        for i in 0..<20_000 {
            let sent = Int64(i) * 1000 / 180
            let late = next() % 200 == 0 ? Int64(next() % 20) + 1 : 0
            arrivals.append((first &+ UInt16(truncatingIfNeeded: i), sent + late))
        }
        arrivals.sort { $0.at < $1.at }
        var expected: UInt16 = first
        var inOrder = true
        for a in arrivals {
            h.push(a.seq, at: a.at)
            h.expire(at: a.at)
        }
        h.expire(at: Int64.max / Self.ms)
        for o in h.out {
            guard let v = UInt16(o), v == expected else { inOrder = false; break }
            expected &+= 1
        }
        #expect(inOrder && h.out.count == 20_000)
        #expect(h.buffer.stats.lost == 0 && h.buffer.stats.late == 0 && h.buffer.stats.reordered > 0)
    }
}
