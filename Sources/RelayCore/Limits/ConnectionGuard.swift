import CoreMetrics
import Logging
import NIOCore

/// Where a connection stands, as its protocol session tells the `ConnectionGuard` in front of
/// it: `ConnectionGuard.mark(.playing, context)` (an outbound user event, so the session needs
/// no reference to the guard, and a pipeline without a guard ignores it).
public enum ConnectionState: Sendable, Equatable {
    /// Waiting for the peer (its request, its publish or play): the establish deadline runs.
    case waiting
    /// The server works on the peer's complete request (a hook, waiting for a stream): the
    /// deadline is paused; those waits have bounds of their own.
    case serving
    /// A player: no deadline and no idle check; the slow-player policy ends one that stops reading.
    case playing
    /// A publisher: no deadline; the idle check stays (media must keep coming).
    case publishing
    /// A request/response protocol (the admin API) answered a request: waiting again, with a
    /// whole new deadline for the next request.
    case answered
}

/// First handler of every TCP listener's pipeline, one mechanism for all protocols:
///
/// - **Establish deadline**: a connection must be playing or publishing within `establish` of
///   connecting (or of its last play/publish ending). Time the server spends on the peer's
///   complete request (`.serving`) does not count; dripping bytes does not extend it. This is
///   the handshake, first-request, header and body timeout of a connection that is not (yet)
///   a player or publisher: it cannot hold a connection slot longer than this.
/// - **Idle check**: a connection that is not playing, with no bytes read or written for
///   `idle`, is closed (a publisher that went silent, a connection that never says anything).
///
/// Either may be nil (off). Confined to its channel's event loop; nothing here runs per byte
/// except setting one flag.
public final class ConnectionGuard: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = Any
    public typealias OutboundOut = Any

    /// What the guard enforces on one listener.
    public struct Policy: Sendable {
        /// Names the listener in log lines and metrics ("rtmp", "http_flv" …).
        public var listener: String
        public var establish: TimeAmount?
        public var idle: TimeAmount?
        /// The config key named in the log line when the deadline closes a connection.
        public var establishKey: String
        /// What the deadline waits for, in that log line.
        public var expecting: String

        public init(listener: String, establishMs: Int?, idleMs: Int?, establishKey: String = "limits.establish_timeout_ms",
                    expecting: String = "playing or publishing") {
            self.listener = listener
            self.establish = establishMs.flatMap { $0 > 0 ? .milliseconds(Int64($0)) : nil }
            self.idle = idleMs.flatMap { $0 > 0 ? .milliseconds(Int64($0)) : nil }
            self.establishKey = establishKey
            self.expecting = expecting
        }

        /// The listener's policy from `limits`.
        public init(listener: String, limits: RelayConfig.Limits, establish: Bool = true) {
            self.init(listener: listener, establishMs: establish ? limits.establishTimeoutMs : nil, idleMs: limits.idleTimeoutMs)
        }
    }

    /// Idle ticks per idle timeout: a quiet connection is closed between 1 and 1.25 × `idle`.
    static let ticksPerIdle: Int64 = 4

    private let policy: Policy
    private let logger: Logger
    private var state = ConnectionState.waiting
    /// Deadline time left when it is paused (`.serving`); nil when it is not paused.
    private var remaining: TimeAmount?
    /// When the connection must be playing or publishing; nil while no deadline runs.
    private var deadline: NIODeadline?
    /// The timer that checks `deadline`, and when it fires. It is moved only to an earlier time:
    /// a later deadline (a keep-alive client's next request) is re-armed when the timer fires,
    /// so a client polling many times a second costs no timer per request.
    private var deadlineTask: Scheduled<Void>?
    private var deadlineTaskAt: NIODeadline?
    private var idleTask: RepeatedTask?
    private var sawTraffic = false
    private var quietTicks: Int64 = 0
    private var started = false
    private var closed = false

    public init(policy: Policy, logger: Logger) {
        self.policy = policy
        self.logger = logger
    }

    /// Tells the guard in `context`'s pipeline (if any) where the connection stands.
    public static func mark(_ state: ConnectionState, _ context: ChannelHandlerContext) {
        context.triggerUserOutboundEvent(state, promise: nil)
    }

    // MARK: lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
        stopTimers()
        context.fireChannelInactive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        setDeadline(context, in: policy.establish)
        if let idle = policy.idle {
            let tick = TimeAmount.nanoseconds(max(idle.nanoseconds / Self.ticksPerIdle, 10_000_000))
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            idleTask = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
                let (guardian, context) = bound.value
                guardian.idleTick(context)
            }
        }
    }

    private func stopTimers() {
        deadlineTask?.cancel()
        deadlineTask = nil
        deadlineTaskAt = nil
        deadline = nil
        idleTask?.cancel()
        idleTask = nil
    }

    // MARK: traffic

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        sawTraffic = true
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        sawTraffic = true
        context.write(data, promise: promise)
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let next = event as? ConnectionState else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        apply(next, context)
        promise?.succeed(())
    }

    // MARK: state

    private func apply(_ next: ConnectionState, _ context: ChannelHandlerContext) {
        guard next != state, !closed else { return }
        let previous = state
        state = next == .answered ? .waiting : next
        quietTicks = 0
        switch next {
        case .answered:
            remaining = nil
            setDeadline(context, in: policy.establish)
        case .serving:
            guard let due = deadline else { return }
            remaining = .nanoseconds(max(0, (due - context.eventLoop.now).nanoseconds))
            deadline = nil
        case .waiting:
            // Back from the server's work: the time left. After a play or publish ended: a new deadline.
            let delay = previous == .serving ? (remaining ?? policy.establish) : policy.establish
            remaining = nil
            setDeadline(context, in: delay)
        case .playing, .publishing:
            deadlineTask?.cancel()
            deadlineTask = nil
            deadlineTaskAt = nil
            deadline = nil
            remaining = nil
        }
    }

    /// Starts the deadline to end in `delay` (nil: no deadline).
    private func setDeadline(_ context: ChannelHandlerContext, in delay: TimeAmount?) {
        guard let delay else {
            deadline = nil
            return
        }
        let due = context.eventLoop.now + delay
        deadline = due
        if let armed = deadlineTaskAt, armed <= due { return }  // fires first and re-arms for `due`
        armTimer(context, at: due)
    }

    private func armTimer(_ context: ChannelHandlerContext, at due: NIODeadline) {
        deadlineTask?.cancel()
        deadlineTaskAt = due
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadlineTask = context.eventLoop.scheduleTask(deadline: due) {
            let (guardian, context) = bound.value
            guardian.deadlineTask = nil
            guardian.deadlineTaskAt = nil
            guard let deadline = guardian.deadline else { return }  // paused, or no longer waiting
            if deadline > context.eventLoop.now {
                guardian.armTimer(context, at: deadline)
                return
            }
            let total = guardian.policy.establish.map(Self.ms) ?? 0
            guardian.close(context, reason: "establish",
                           "not \(guardian.policy.expecting) within \(total) ms (\(guardian.policy.establishKey))")
        }
    }

    private func idleTick(_ context: ChannelHandlerContext) {
        guard !closed, let idle = policy.idle else { return }
        if sawTraffic || state == .playing || state == .serving {
            sawTraffic = false
            quietTicks = 0
            return
        }
        quietTicks += 1
        if quietTicks >= Self.ticksPerIdle {
            close(context, reason: "idle", "nothing sent or received for \(Self.ms(idle)) ms (limits.idle_timeout_ms)")
        }
    }

    private func close(_ context: ChannelHandlerContext, reason: String, _ text: String) {
        guard !closed else { return }
        closed = true
        stopTimers()
        RelayMetrics.connectionTimedOut(listener: policy.listener, reason: reason)
        logger.warning("closing \(policy.listener) connection from \(context.remoteAddress?.displayString ?? "?"): \(text)")
        context.close(promise: nil)
    }

    private static func ms(_ t: TimeAmount) -> Int64 { t.nanoseconds / 1_000_000 }
}

extension RelayMetrics {
    /// A connection closed by its `ConnectionGuard`: `reason` "establish" (not playing,
    /// publishing or done with its request in time) or "idle" (nothing either way).
    public static func connectionTimedOut(listener: String, reason: String) {
        Counter(label: "relay_connections_timed_out_total", dimensions: [("listener", listener), ("reason", reason)]).increment()
    }
}
