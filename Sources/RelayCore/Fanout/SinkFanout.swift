import NIOCore

/// The sinks of one TransStream that live on one event loop. Mutated only on `loop`.
///
/// Grouping by loop makes a segment cost one task hop per loop, not per player; within a loop the
/// segment is written to each sink directly.
final class LoopSinkGroup: @unchecked Sendable {
    let loop: any EventLoop
    private var sinks: [any MediaSink] = []
    /// Players that take no segments (`MediaSink.receivesSegments`), kept to be ended.
    private var counted: [any MediaSink] = []

    init(loop: any EventLoop) { self.loop = loop }

    func add(_ sink: any MediaSink, startup: StartupBytes) {
        loop.assertInEventLoop()
        if sink.receivesSegments { sinks.append(sink) } else { counted.append(sink) }
        sink.start(startup)
    }

    func remove(_ id: SinkID) {
        loop.assertInEventLoop()
        if let i = sinks.firstIndex(where: { $0.id == id }) {
            sinks.remove(at: i)
        } else if let i = counted.firstIndex(where: { $0.id == id }) {
            counted.remove(at: i)
        }
    }

    func deliver(_ segment: Segment) {
        loop.assertInEventLoop()
        for sink in sinks { sink.deliver(segment) }
    }

    func endAll() {
        loop.assertInEventLoop()
        let ending = sinks + counted
        sinks.removeAll()
        counted.removeAll()
        for sink in ending { sink.sourceEnded() }
    }
}

/// Sinks of one TransStream grouped by event loop. Owned by the Source (its loop).
struct SinkFanout {
    private var groups: [LoopSinkGroup] = []
    private(set) var count = 0

    /// Ordering: `add` and later `deliver`s reach a loop through the same FIFO task queue, so a new
    /// sink sees its startup bytes before any live segment cut after them.
    mutating func add(_ sink: any MediaSink, startup: StartupBytes) {
        let group = self.group(for: sink.eventLoop)
        count += 1
        run(on: group) { $0.add(sink, startup: startup) }
    }

    mutating func remove(_ sink: any MediaSink) {
        guard let group = groups.first(where: { $0.loop === sink.eventLoop }) else { return }
        count -= 1
        let id = sink.id
        run(on: group) { $0.remove(id) }
    }

    func deliver(_ segment: Segment) {
        for group in groups {
            run(on: group) { $0.deliver(segment) }
        }
    }

    mutating func endAll() {
        for group in groups { run(on: group) { $0.endAll() } }
        groups.removeAll()
        count = 0
    }

    private mutating func group(for loop: any EventLoop) -> LoopSinkGroup {
        if let g = groups.first(where: { $0.loop === loop }) { return g }
        let g = LoopSinkGroup(loop: loop)
        groups.append(g)
        return g
    }

    private func run(on group: LoopSinkGroup, _ body: @escaping @Sendable (LoopSinkGroup) -> Void) {
        if group.loop.inEventLoop {
            body(group)
        } else {
            group.loop.execute { body(group) }
        }
    }
}
