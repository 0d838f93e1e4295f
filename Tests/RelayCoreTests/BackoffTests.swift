import RelayCore
import Testing

struct BackoffTests {
    @Test func delaysGrowExponentiallyWithinJitterBoundsAndCap() {
        let backoff = Backoff(initial: 0.5, maximum: 8, multiplier: 2, jitter: 0.5)
        #expect(backoff.nominal(attempt: 0) == 0.5)
        #expect(backoff.nominal(attempt: 1) == 1)
        #expect(backoff.nominal(attempt: 3) == 4)
        #expect(backoff.nominal(attempt: 4) == 8)
        #expect(backoff.nominal(attempt: 50) == 8)
        for attempt in 0..<12 {
            let bounds = backoff.bounds(attempt: attempt)
            #expect(bounds.upperBound <= 8)
            #expect(bounds.lowerBound >= 0.25)
            #expect(backoff.delay(attempt: attempt, random: 0) == bounds.upperBound)
            #expect(backoff.delay(attempt: attempt, random: 0.999_999) >= bounds.lowerBound)
            for _ in 0..<50 {
                #expect(bounds.contains(backoff.delay(attempt: attempt)))
            }
        }
        // Jitter really spreads: 200 draws of attempt 3 are not all equal.
        let draws = Set((0..<200).map { _ in backoff.delay(attempt: 3) })
        #expect(draws.count > 100)
    }
}
