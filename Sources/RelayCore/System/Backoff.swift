/// Reconnect delays: exponential back-off with jitter. Attempt n (0-based) waits a nominal
/// `initial · multiplier^n`, capped at `maximum`, minus a random share of up to `jitter` of it —
/// so delays stay within [nominal · (1 − jitter), nominal] and reconnecting cameras spread out.
public struct Backoff: Sendable, Equatable {
    public var initial: Double
    public var maximum: Double
    public var multiplier: Double
    /// 0...1.
    public var jitter: Double

    public init(initial: Double = 0.5, maximum: Double = 8, multiplier: Double = 2, jitter: Double = 0.5) {
        precondition(initial > 0 && maximum >= initial && multiplier >= 1 && (0...1).contains(jitter),
                     "bad back-off parameters")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` without jitter, in seconds.
    public func nominal(attempt: Int) -> Double {
        var delay = initial
        for _ in 0..<max(0, attempt) {
            delay *= multiplier
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// The range `delay(attempt:)` falls in.
    public func bounds(attempt: Int) -> ClosedRange<Double> {
        let n = nominal(attempt: attempt)
        return (n * (1 - jitter))...n
    }

    /// The delay before attempt `attempt`, in seconds, with jitter from `random` (0..<1).
    public func delay(attempt: Int, random: Double) -> Double {
        nominal(attempt: attempt) * (1 - jitter * min(max(random, 0), 1))
    }

    public func delay(attempt: Int) -> Double {
        delay(attempt: attempt, random: Double.random(in: 0..<1))
    }
}
