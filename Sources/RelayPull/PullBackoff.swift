/// Reconnect delays of a pull: `reconnect_min_ms`, doubling per failure in a row up to
/// `reconnect_max_ms`, each ±20 % at random so pulls of one failed origin do not return in step.
struct PullBackoff: Sendable, Equatable {
    var minimumMs: Int
    var maximumMs: Int
    static let jitter = 0.2

    /// The delay before retry `failures` (0 = after the first failure) without jitter.
    func nominalMs(failures: Int) -> Int {
        var delay = max(1, minimumMs)
        for _ in 0..<max(0, failures) {
            if delay >= maximumMs / 2 { return maximumMs }
            delay *= 2
        }
        return min(delay, maximumMs)
    }

    /// With jitter from `random` (0..<1: 0 is −20 %, 0.5 nominal, 1 +20 %).
    func delayMs(failures: Int, random: Double) -> Int {
        let r = min(max(random, 0), 1)
        let factor = 1 + Self.jitter * (2 * r - 1)
        return Int((Double(nominalMs(failures: failures)) * factor).rounded())
    }
}
