import RelayCore
import RelayRTP
import Testing

@Suite struct NACKTrackerTests {
    static let ms: Int64 = 1_000_000

    @Test func gapsAreAskedForThenRetriedThenGivenUp() {
        var t = NACKTracker(maxRetries: 3, retryNanos: 30 * Self.ms)
        for s: UInt16 in [1, 2, 5] { t.received(s, now: 0) }
        #expect(t.missingCount == 2)
        #expect(t.due(now: 0) == [3, 4])
        #expect(t.due(now: 29 * Self.ms).isEmpty, "not again before retryNanos")
        #expect(t.due(now: 30 * Self.ms) == [3, 4])
        t.received(3, now: 31 * Self.ms)  // the retransmission
        #expect(t.missingCount == 1)
        #expect(t.due(now: 60 * Self.ms) == [4])
        #expect(t.missingCount == 0, "asked 3 times: given up, nothing left behind")
        #expect(t.due(now: 1_000 * Self.ms).isEmpty)
    }

    @Test func sequenceNumbersWrap() {
        var t = NACKTracker()
        t.received(65533, now: 0)
        t.received(1, now: 0)
        #expect(t.due(now: 0) == [65534, 65535, 0])
        t.received(0, now: 0)
        t.received(65534, now: 0)
        #expect(t.due(now: .max) == [65535])
        t.received(2, now: 0)
        #expect(t.missingCount == 1)
    }

    @Test func reorderedAndDuplicatePacketsClearTheirEntries() {
        var t = NACKTracker()
        for s: UInt16 in [10, 12, 11, 11, 12, 14, 10, 13, 13, 15] { t.received(s, now: 0) }
        #expect(t.missingCount == 0)
        #expect(t.due(now: 0).isEmpty)
        t.received(20, now: 0)
        t.received(17, now: 0)
        t.received(19, now: 0)
        #expect(t.due(now: 0) == [16, 18])
    }

    @Test func aJumpBeyondMaxMissingResets() {
        var t = NACKTracker(maxMissing: 100)
        t.received(10, now: 0)
        t.received(12, now: 0)
        t.received(113, now: 0)  // 101 ahead
        #expect(t.missingCount == 0, "a restart or a burst too long to repair")
        t.received(115, now: 0)
        #expect(t.due(now: 0) == [114])
        t.received(40_000, now: 0)  // far behind counts as a jump too
        t.received(40_001, now: 0)
        #expect(t.missingCount == 0)
        t.received(40_101, now: 0)  // exactly maxMissing ahead: tracked
        #expect(t.missingCount == 99)
    }

    @Test func numbersFallingOutOfTheWindowAreGivenUp() {
        var t = NACKTracker(maxMissing: 8)
        t.received(0, now: 0)
        t.received(5, now: 0)
        #expect(t.missingCount == 4)
        t.received(13, now: 0)
        #expect(t.due(now: 0) == [6, 7, 8, 9, 10, 11, 12], "1-4 are more than 8 behind 13")
        t.received(5, now: 0)  // 8 behind: a duplicate, nothing to clear
        #expect(t.missingCount == 7)
        t.received(4, now: 0)  // 9 behind: a restart as far as the tracker can tell
        #expect(t.missingCount == 0)
    }

    @Test func memoryStaysBoundedAndEverythingIsEventuallyGivenUp() {
        var t = NACKTracker(maxMissing: 64, maxRetries: 2, retryNanos: 5)
        var rng = SplitMix64(seed: 5104)
        var s: UInt16 = 0
        var now: Int64 = 0
        var asked = 0
        for _ in 0..<200_000 {
            s &+= UInt16.random(in: 1...3, using: &rng)
            if Int.random(in: 0..<1000, using: &rng) == 0 { s &+= UInt16.random(in: 0...UInt16.max, using: &rng) }
            let late = Int.random(in: 0..<4, using: &rng) == 0
            t.received(late ? s &- UInt16.random(in: 0...60, using: &rng) : s, now: now)
            now += 1
            if now % 3 == 0 { asked += t.due(now: now).count }
            #expect(t.missingCount <= 64)
        }
        #expect(asked > 10_000)
        _ = t.due(now: now + 100)
        _ = t.due(now: now + 200)
        #expect(t.missingCount == 0)
    }
}
