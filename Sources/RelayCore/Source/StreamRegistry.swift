import NIOConcurrencyHelpers
import NIOCore

/// Live sources by stream id, and players waiting for one to become playable.
///
/// Touched only when sessions start and end (never per packet), so one lock is enough.
public final class StreamRegistry: Sendable {
    /// What `register` throws; admission (`RelayContext.admitPublisher`) passes it on.
    public typealias PublishError = PublishRefusal

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Source?, Never>
    }

    private struct State {
        var sources: [String: Source] = [:]
        var ready: Set<String> = []
        /// Sources whose publisher dropped and whose players wait for it (`publisher_grace_ms`).
        var lingering: Set<String> = []
        var waiters: [String: [Waiter]] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    private let observers = NIOLockedValueBox<[any StreamObserver]>([])

    /// Live streams at most (0 = no limit).
    public let maxStreams: Int
    /// Refuses new publishers while exhausted.
    public let memory: MemoryBudget

    public init(maxStreams: Int = 0, memory: MemoryBudget = MemoryBudget(limit: 0)) {
        self.maxStreams = maxStreams
        self.memory = memory
    }

    /// Told of every id claimed and released from now on (a cluster's registry).
    public func addObserver(_ observer: any StreamObserver) {
        observers.withLockedValue { $0.append(observer) }
    }

    private enum Claim {
        case claimed
        case busy(Source)
        case full
        case noMemory
        case takesOver(Source)
    }

    /// Claims the stream id for a new publisher. A lingering source of that id (its publisher
    /// dropped within `publisher_grace_ms`) is replaced, and its players continue with `source`.
    public func register(_ source: Source) throws(PublishError) {
        guard isValidStreamID(source.id) else { throw .invalidStreamID(source.id) }
        let claim = state.withLockedValue { s -> Claim in
            if let current = s.sources[source.id] {
                guard s.lingering.contains(source.id) else { return .busy(current) }
                s.lingering.remove(source.id)
                s.ready.remove(source.id)
                s.sources[source.id] = source
                return .takesOver(current)
            }
            if maxStreams > 0 && s.sources.count >= maxStreams { return .full }
            if memory.isExhausted { return .noMemory }
            s.sources[source.id] = source
            return .claimed
        }
        switch claim {
        case .busy(let current):
            throw .busy(source.id, holder: current.holder)
        case .full: throw .tooManyStreams(maxStreams)
        case .noMemory:
            RelayMetrics.memoryBudgetRefused(kind: "publisher")
            throw .memoryExhausted(used: memory.usedBytes, limit: memory.limit)
        case .takesOver(let old): source.registered(takingOverFrom: old)
        case .claimed: source.registered()  // timers and on_publish_done start now
        }
        for observer in observers.withLockedValue({ $0 }) { observer.streamStarted(source) }
    }

    public func unregister(_ source: Source) {
        let removed = state.withLockedValue { s -> Bool in
            guard s.sources[source.id] === source else { return false }
            s.sources[source.id] = nil
            s.ready.remove(source.id)
            s.lingering.remove(source.id)
            return true
        }
        guard removed else { return }
        for observer in observers.withLockedValue({ $0 }) { observer.streamEnded(source) }
    }

    /// The source's publisher dropped; a new publisher of its id takes its players over.
    func linger(_ source: Source) {
        state.withLockedValue { s in
            if s.sources[source.id] === source { s.lingering.insert(source.id) }
        }
    }

    /// The source has its tracks: wake players waiting for it.
    func markReady(_ source: Source) {
        let waiters = state.withLockedValue { s -> [Waiter] in
            guard s.sources[source.id] === source else { return [] }
            s.ready.insert(source.id)
            return s.waiters.removeValue(forKey: source.id) ?? []
        }
        for w in waiters { w.continuation.resume(returning: source) }
    }

    /// The live source a new publisher over `protocolName` may replace, or nil. With
    /// `reject_duplicate_publish` off a newcomer takes over its own protocol's stream (an encoder
    /// that reconnects before its old connection is seen dead); another protocol's publisher is
    /// replaced only with `cross_protocol_takeover` (a camera's stream is not hijacked over RTMP).
    public func takeoverCandidate(_ id: String, protocolName: String, policy: RelayConfig.Source) -> Source? {
        guard !policy.rejectDuplicatePublish, let current = source(id) else { return nil }
        guard current.publisher.protocolName == protocolName || policy.crossProtocolTakeover else { return nil }
        return current
    }

    /// Whether a publisher holds `id` now; a source whose publisher dropped and whose players wait
    /// (`publisher_grace_ms`) does not count: a new publisher of that id takes it over.
    public func hasLivePublisher(_ id: String) -> Bool {
        state.withLockedValue { $0.sources[id] != nil && !$0.lingering.contains(id) }
    }

    public func source(_ id: String) -> Source? {
        state.withLockedValue { $0.sources[id] }
    }

    public var sources: [Source] {
        state.withLockedValue { Array($0.sources.values) }
    }

    /// Returns the stream once it is playable, waiting up to `timeout` for it to be published.
    public func waitForPlayableSource(_ id: String, timeout: TimeAmount, on loop: any EventLoop) async -> Source? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Source?, Never>) in
            let outcome = state.withLockedValue { s -> (Source?, UInt64?) in
                if s.ready.contains(id), let src = s.sources[id] { return (src, nil) }
                s.nextWaiter += 1
                s.waiters[id, default: []].append(Waiter(id: s.nextWaiter, continuation: continuation))
                return (nil, s.nextWaiter)
            }
            if let src = outcome.0 {
                continuation.resume(returning: src)
            } else if let waiterID = outcome.1 {
                loop.scheduleTask(in: timeout) { [self] in self.expire(id, waiterID) }
            }
        }
    }

    private func expire(_ id: String, _ waiterID: UInt64) {
        let waiter = state.withLockedValue { s -> Waiter? in
            guard var list = s.waiters[id], let i = list.firstIndex(where: { $0.id == waiterID }) else { return nil }
            let w = list.remove(at: i)
            s.waiters[id] = list.isEmpty ? nil : list
            return w
        }
        waiter?.continuation.resume(returning: nil)
    }
}
