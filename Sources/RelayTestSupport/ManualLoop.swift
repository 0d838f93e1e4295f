#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import NIOConcurrencyHelpers
import NIOCore

/// For tests and fuzz targets of protocol sessions.
///
/// A single-threaded event loop driven by hand, with virtual time, that can also be a Swift
/// actor executor (`NIOSerialEventLoopExecutor`): `Source` is an actor whose executor is its
/// publisher's event loop and sessions reach it with `assumeIsolated`, which EmbeddedEventLoop
/// cannot do (its `executor` traps). Everything runs on the thread that made the loop (the
/// fuzzer's), in a fixed order, so an input replays exactly.
///
/// Tasks run only from `run`, `advance` and `drain`; work submitted from another thread (a Swift
/// Task hopping onto a Source) is queued under the lock and runs at the next of those calls.
public final class ManualLoop: EventLoop, NIOSerialEventLoopExecutor, @unchecked Sendable {
    private struct Job {
        let deadline: NIODeadline
        let seq: UInt64
        let run: () -> Void
        let fail: (any Error) -> Void
    }

    private let lock = NIOLock()
    /// Sorted by (deadline, seq).
    private var jobs: [Job] = []
    private var seq: UInt64 = 0
    private var current: NIODeadline
    /// The thread that may run this loop's work: the one that made it, until `claim`.
    private var thread = pthread_self()

    public init() {
        current = .uptimeNanoseconds(1_000_000_000)
    }

    public var now: NIODeadline { lock.withLock { current } }

    public var inEventLoop: Bool { lock.withLock { pthread_equal(pthread_self(), thread) != 0 } }

    /// Makes the calling thread the loop's thread. For async tests, which may resume on another
    /// thread after a suspension: they claim the loop before touching it again. Only one thread
    /// drives the loop at a time (the test's); other threads only enqueue work.
    public func claim() {
        lock.withLock { thread = pthread_self() }
    }

    public var pendingTasks: Int { lock.withLock { jobs.count } }

    public func execute(_ task: @escaping @Sendable () -> Void) {
        _ = insert(deadline: now, run: task, fail: { _ in })
    }

    @discardableResult
    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        // Tasks run on this loop's thread, where the promise may take a non-Sendable value.
        let id = insert(deadline: deadline, run: {
            do { promise.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch { promise.fail(error) }
        }, fail: { promise.fail($0) })
        return Scheduled(promise: promise) { [weak self] in self?.cancel(id) }
    }

    @discardableResult
    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: now + delay, task)
    }

    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        cancelAll()
        queue.async { callback(nil) }
    }

    /// Runs every task that is due now (and those they make due now).
    public func run() {
        advance(to: now)
    }

    public func advance(by amount: TimeAmount) {
        advance(to: now + amount)
    }

    /// Moves virtual time to `deadline`, running due tasks in deadline order.
    public func advance(to deadline: NIODeadline) {
        while let job = popDue(before: deadline) {
            job.run()
        }
        lock.withLock { if current < deadline { current = deadline } }
    }

    /// Teardown: runs pending work and timers in order (moving time forward) up to `maxTasks`
    /// tasks, then cancels whatever is left (re-armed timers), so no closure keeps an input's
    /// objects alive.
    public func drain(maxTasks: Int = 512) {
        var ran = 0
        while ran < maxTasks, let job = popDue(before: .distantFuture) {
            job.run()
            ran += 1
        }
        cancelAll()
    }

    /// Fails every pending task's promise (EventLoopError.cancelled) without running it.
    public func cancelAll() {
        while true {
            let pending: [Job] = lock.withLock {
                defer { jobs.removeAll() }
                return jobs
            }
            if pending.isEmpty { return }
            for job in pending { job.fail(EventLoopError.cancelled) }
        }
    }

    private func insert(deadline: NIODeadline, run: @escaping () -> Void, fail: @escaping (any Error) -> Void) -> UInt64 {
        lock.withLock {
            seq &+= 1
            let job = Job(deadline: deadline, seq: seq, run: run, fail: fail)
            // Binary search for the first job that sorts after this one.
            var lo = 0, hi = jobs.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if jobs[mid].deadline <= deadline { lo = mid + 1 } else { hi = mid }
            }
            jobs.insert(job, at: lo)
            return seq
        }
    }

    private func cancel(_ id: UInt64) {
        let job: Job? = lock.withLock {
            guard let i = jobs.firstIndex(where: { $0.seq == id }) else { return nil }
            return jobs.remove(at: i)
        }
        job?.fail(EventLoopError.cancelled)
    }

    private func popDue(before deadline: NIODeadline) -> Job? {
        lock.withLock {
            guard let first = jobs.first, first.deadline <= deadline else { return nil }
            jobs.removeFirst()
            if current < first.deadline { current = first.deadline }
            return first
        }
    }
}
