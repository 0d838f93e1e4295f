import NIOCore

extension ManualLoop {
    /// Runs due work until `condition` holds, for session tests whose handlers hop through Swift
    /// Tasks (hooks, admission, waiting for a publisher): those resume off this loop and queue
    /// their continuation here, so the loop is run again after every short pause. The pause is
    /// a suspension, not a blocked thread, so those Tasks get a thread even when tests run in
    /// parallel. Virtual time moves on `step` per round, so the handlers' timers fire as they
    /// would. Returns with the loop claimed by the calling thread; false when `condition` still
    /// fails after `rounds` rounds.
    public func run(until condition: () -> Bool, step: TimeAmount = .milliseconds(1), rounds: Int = 2_000) async -> Bool {
        for _ in 0..<rounds {
            claim()
            advance(by: step)
            if condition() { return true }
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
        claim()
        advance(by: step)
        return condition()
    }
}
