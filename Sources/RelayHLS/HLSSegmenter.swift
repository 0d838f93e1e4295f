import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// The segmenter's state as requests read it from any thread: replaced at every part or
/// segment cut, never mutated, so a request that finds what it asks for is answered without a
/// hop to the segmenter's loop.
/// (A class: a request takes one reference, not a copy of every field.)
final class HLSSnapshot: Sendable {
    let window: HLSSegmentWindow
    let playlist: HLSPlaylistTemplate

    init(window: HLSSegmentWindow, playlist: HLSPlaylistTemplate) {
        self.window = window
        self.playlist = playlist
    }
}

/// The one segmenter of a (Source, HLS variant): a background sink of that variant's TransStream
/// (merge window 0: a `Segment` per packet) that builds segments and parts in memory
/// (`HLSSegmentWindow`) and wakes requests blocked on them.
///
/// Confined to `eventLoop`, the source's loop: the TransStream delivers to it without a hop.
final class HLSSegmenter: BackgroundSink, @unchecked Sendable {
    enum WaitOutcome { case ready, timedOut, overloaded, ended }

    private struct Waiter {
        let id: UInt64
        let wait: HLSWait
        let timer: Scheduled<Void>
        let done: (WaitOutcome) -> Void
    }

    let id: SinkID
    let eventLoop: any EventLoop
    private(set) var window: HLSSegmentWindow
    private(set) var ended = false
    private let memory: MemoryBudget
    private var reportedBytes = 0
    private var waiters: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    /// Requests blocked at once on one stream; more are answered 503 at once.
    let maxWaiters: Int
    /// Called once when the source ends (the stream's sessions go with it).
    var onEnd: (() -> Void)?
    private let published = NIOLockedValueBox<HLSSnapshot?>(nil)

    /// The latest snapshot (any thread); nil before the start-up bytes and after the end.
    var snapshot: HLSSnapshot? { published.withLockedValue { $0 } }

    init(id: SinkID, eventLoop: any EventLoop, config: HLSWindowConfig, memory: MemoryBudget, maxWaiters: Int = 4096) {
        self.id = id
        self.eventLoop = eventLoop
        self.window = HLSSegmentWindow(config: config)
        self.memory = memory
        self.maxWaiters = maxWaiters
    }

    private var nowMs: Int64 { Int64((NIODeadline.now().uptimeNanoseconds / 1_000_000)) &+ Self.wallOffsetMs }
    /// Wall-clock ms minus uptime ms, read once: PROGRAM-DATE-TIME without a clock call per packet.
    private static let wallOffsetMs: Int64 =
        Int64(Date().timeIntervalSince1970 * 1000) &- Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)

    // MARK: MediaSink

    func start(_ startup: StartupBytes) {
        eventLoop.assertInEventLoop()
        window.start(header: startup.header, segments: startup.segments, nowMs: nowMs)
        changed()
    }

    func deliver(_ segment: Segment) {
        guard !ended, window.feed(segment, nowMs: nowMs) else { return }
        changed()
    }

    func sourceEnded() {
        eventLoop.assertInEventLoop()
        guard !ended else { return }
        ended = true
        memory.add(-reportedBytes)
        reportedBytes = 0
        window = HLSSegmentWindow(config: window.config)
        published.withLockedValue { $0 = nil }
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting {
            waiter.timer.cancel()
            waiter.done(.ended)
        }
        let end = onEnd
        onEnd = nil
        end?()
    }

    // MARK: blocking requests

    /// Runs `done` on the loop when `wait` is satisfied (at once if it is), or when `timeoutMs`
    /// passes, the source ends, or too many requests wait already.
    func wait(for wait: HLSWait, timeoutMs: Int64, _ done: @escaping (WaitOutcome) -> Void) {
        eventLoop.assertInEventLoop()
        if ended { return done(.ended) }
        if window.isSatisfied(wait) { return done(.ready) }
        guard waiters.count < maxWaiters else { return done(.overloaded) }
        nextWaiterID &+= 1
        let id = nextWaiterID
        let timer = eventLoop.scheduleTask(in: .milliseconds(max(timeoutMs, 1))) { [self] in self.timedOut(id) }
        waiters.append(Waiter(id: id, wait: wait, timer: timer, done: done))
    }

    var waiterCount: Int { waiters.count }

    private func timedOut(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        waiter.done(.timedOut)
    }

    /// A part or segment was completed: publish, account its memory and wake what it satisfies.
    private func changed() {
        let copy = window.published()
        let snapshot = HLSSnapshot(window: copy, playlist: HLSPlaylistTemplate(copy))
        published.withLockedValue { $0 = snapshot }
        let held = window.heldBytes
        if held != reportedBytes {
            memory.add(held &- reportedBytes)
            reportedBytes = held
        }
        guard !waiters.isEmpty else { return }
        var ready: [Waiter] = []
        waiters.removeAll { waiter in
            guard window.isSatisfied(waiter.wait) else { return false }
            ready.append(waiter)
            return true
        }
        for waiter in ready {
            waiter.timer.cancel()
            waiter.done(.ready)
        }
    }
}
