import NIOConcurrencyHelpers
import Testing
@testable import RelayCore

@Suite struct MemoryTrimmerTests {
    @Test func trimsOnlyAfterTheCountFallsFarEnoughBelowItsPeak() {
        let count = NIOLockedValueBox(0)
        let trimmer = MemoryTrimmer(minDrop: 64) { count.withLockedValue { $0 } }
        func at(_ n: Int) -> Bool {
            count.withLockedValue { $0 = n }
            return trimmer.check()
        }
        #expect(!at(10))
        #expect(!at(200))   // growing: nothing to give back
        #expect(!at(150))   // 50 below the peak
        #expect(at(100))    // 100 below the peak: trim
        #expect(!at(90))    // the peak restarted at 100
        #expect(!at(300))
        #expect(at(0))
    }

    @Test func trimsWhenCachedBytesFallOrASourceClosed() {
        let budget = MemoryBudget(limit: 0)
        let trimmer = MemoryTrimmer(minDrop: 64, minBytesDrop: 1000, budget: budget) { 0 }
        budget.add(5000)
        #expect(!trimmer.check())
        budget.add(-500)
        #expect(!trimmer.check())
        budget.add(-1000)
        #expect(trimmer.check())   // 1500 below the peak
        #expect(!trimmer.check())
        budget.requestTrim()
        #expect(trimmer.check())   // once per request
        #expect(!trimmer.check())
    }
}
