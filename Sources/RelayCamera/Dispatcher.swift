import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// How a consumer gets its frames from the fetch loop.
public enum FrameDelivery: Sendable {
    /// Called in the fetch loop itself: for cheap work (counters, statistics) only.
    case direct
    /// Called on this event loop (network sends): the fetch loop only enqueues a task.
    case eventLoop(any EventLoop)
    /// Called on a thread of the consumer's own, through a bounded queue that drops the oldest
    /// frame when full (blocking work such as file writes). Drops are counted.
    case queued(capacity: Int)
}

/// A consumer of camera frames. Register it with `FrameDispatcher.register` — that is all it
/// takes to add one. Frames share their payload storage: a consumer must not expect a private
/// copy and must not mutate the bytes.
public protocol FrameConsumer: AnyObject, Sendable {
    var name: String { get }
    var delivery: FrameDelivery { get }
    /// One frame, in capture order, on the context `delivery` names.
    func consume(_ frame: CameraFrame)
    /// No more frames; called once, on the same context, after the last `consume`.
    func finish()
}

extension FrameConsumer {
    public func finish() {}
}

/// Counters of one registered consumer.
public struct ConsumerStats: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var delivered = 0
    /// Queued consumers: frames dropped because the queue was full (oldest first).
    public var dropped = 0
    /// Queued consumers: frames waiting now, and the most that ever waited.
    public var queued = 0
    public var maxQueued = 0
}

/// The fan-out of the fetch loop: `dispatch` hands each frame to every registered consumer —
/// direct ones synchronously, event-loop ones as a task on their loop, queued ones through their
/// bounded drop-oldest queue — without copying the payload.
public final class FrameDispatcher: Sendable {
    private let lanes = NIOLockedValueBox<[any Lane]>([])
    private let finished = NIOLockedValueBox(false)

    public init() {}

    /// Adds a consumer; it gets every frame dispatched from now on.
    public func register(_ consumer: any FrameConsumer) {
        let lane: any Lane
        switch consumer.delivery {
        case .direct: lane = DirectLane(consumer)
        case .eventLoop(let loop): lane = LoopLane(consumer, loop: loop)
        case .queued(let capacity): lane = QueueLane(consumer, capacity: capacity)
        }
        lanes.withLockedValue { $0.append(lane) }
    }

    /// Called by the fetch loop for every frame.
    public func dispatch(_ frame: CameraFrame) {
        let current = lanes.withLockedValue { $0 }
        for lane in current { lane.deliver(frame) }
    }

    public var stats: [ConsumerStats] { lanes.withLockedValue { $0 }.map { $0.stats } }

    /// Ends every consumer: queued ones first drain what is queued. Waits at most `timeout`
    /// seconds for each queued consumer (a blocked one is abandoned, its frames dropped).
    public func finish(timeout: Double = 5) async {
        guard finished.withLockedValue({ let was = $0; $0 = true; return !was }) else { return }
        for lane in lanes.withLockedValue({ $0 }) { await lane.finish(timeout: timeout) }
    }
}

protocol Lane: Sendable {
    func deliver(_ frame: CameraFrame)
    func finish(timeout: Double) async
    var stats: ConsumerStats { get }
}

private final class DirectLane: Lane {
    let consumer: any FrameConsumer
    let counters: NIOLockedValueBox<ConsumerStats>

    init(_ consumer: any FrameConsumer) {
        self.consumer = consumer
        self.counters = NIOLockedValueBox(ConsumerStats(name: consumer.name, kind: "direct"))
    }

    func deliver(_ frame: CameraFrame) {
        consumer.consume(frame)
        counters.withLockedValue { $0.delivered += 1 }
    }

    func finish(timeout: Double) async { consumer.finish() }
    var stats: ConsumerStats { counters.withLockedValue { $0 } }
}

private final class LoopLane: Lane {
    let consumer: any FrameConsumer
    let loop: any EventLoop
    let counters: NIOLockedValueBox<ConsumerStats>

    init(_ consumer: any FrameConsumer, loop: any EventLoop) {
        self.consumer = consumer
        self.loop = loop
        self.counters = NIOLockedValueBox(ConsumerStats(name: consumer.name, kind: "event-loop"))
    }

    func deliver(_ frame: CameraFrame) {
        counters.withLockedValue { $0.delivered += 1 }
        loop.execute { [consumer] in consumer.consume(frame) }
    }

    func finish(timeout: Double) async {
        try? await loop.submit { [consumer] in consumer.finish() }.get()
    }

    var stats: ConsumerStats { counters.withLockedValue { $0 } }
}

/// A consumer with its own thread and a bounded queue: when the queue is full the oldest frame
/// is dropped (and counted), so a slow or blocked consumer never holds up the fetch loop.
private final class QueueLane: Lane, @unchecked Sendable {
    let consumer: any FrameConsumer
    let capacity: Int
    // `queue`, `closed` and `counters` are guarded by `condition`.
    private let condition = NSCondition()
    private var queue: CircularBuffer<CameraFrame>
    private var closed = false
    private var counters: ConsumerStats
    private let done = NIOLockedValueBox(false)

    init(_ consumer: any FrameConsumer, capacity: Int) {
        self.consumer = consumer
        self.capacity = max(1, capacity)
        self.queue = CircularBuffer(initialCapacity: max(1, capacity))
        self.counters = ConsumerStats(name: consumer.name, kind: "queued")
        let thread = Thread { [self] in self.run() }
        thread.name = "camera-\(consumer.name)"
        thread.start()
    }

    func deliver(_ frame: CameraFrame) {
        condition.lock()
        if closed {
            condition.unlock()
            return
        }
        if queue.count >= capacity {
            queue.removeFirst()
            counters.dropped += 1
        }
        queue.append(frame)
        counters.queued = queue.count
        counters.maxQueued = max(counters.maxQueued, queue.count)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            guard let frame = queue.popFirst() else {
                // Closed and drained.
                condition.unlock()
                break
            }
            counters.queued = queue.count
            condition.unlock()
            consumer.consume(frame)
            condition.lock()
            counters.delivered += 1
            condition.unlock()
        }
        consumer.finish()
        done.withLockedValue { $0 = true }
    }

    func finish(timeout: Double) async {
        close()
        let deadline = Date().addingTimeInterval(timeout)
        while !done.withLockedValue({ $0 }) && Date() < deadline {
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        if !done.withLockedValue({ $0 }) { abandonQueued() }
    }

    private func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The consumer is still blocked after the timeout: what is queued is dropped.
    private func abandonQueued() {
        condition.lock()
        counters.dropped += queue.count
        queue.removeAll()
        counters.queued = 0
        condition.unlock()
    }

    var stats: ConsumerStats {
        condition.lock()
        defer { condition.unlock() }
        return counters
    }
}
