import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// One open receive port (or SSRC on a shared port): what the admin API opens, lists and closes.
///
/// The receiver outlives the stretches of media it receives: each one is a `GBSession` (a
/// Source on the event loop of the socket that carries it), started by the first packet and
/// ended by a timeout, bad input, a closed connection or `close`.
public final class GBReceiver: Sendable {
    public let streamID: String
    public let mode: GBMode
    public let isStatic: Bool
    public let usesSharedPort: Bool
    /// `gb28181.receiver_timeout_ms` for API receivers: how long it may wait without a session.
    private let timeout: GBReceiverTimeout?

    struct State {
        /// Expected SSRC; nil accepts the first SSRC that arrives (own port only). The platform
        /// may change it (`updateSSRC`): sessions that start later expect the new one.
        var ssrc: UInt32?
        /// tcp-active: where the device listens; nil until the platform names it (`connect`).
        var device: (host: String, port: Int)?
        /// tcp-active: bumped when the device changes, so dials to the old one stop.
        var dialGeneration: UInt64 = 0
        var port: Int?
        /// tcp-active: the local port it dials from, when the platform asked for one.
        var dialPort: Int?
        var closed = false
        var phase: GBReceiverState = .waiting
        var remote: String?
        /// The id the last session published under, when on_publish renamed the stream.
        var publishedAs: String?
        var checkPaused = false
        /// Pauses the live session's Source receive timeout (on its loop).
        var pauseSession: (@Sendable (Bool) -> Void)?
        /// The receiver-timeout countdown; a stale task sees another generation.
        var idleTask: Scheduled<Void>?
        var idleGeneration: UInt64 = 0
        /// When `phase` began.
        var since = Date()
        /// Sessions that ended, and the live one.
        var ended = GBReceiverCounters()
        var live = GBReceiverCounters()
        var sessions: UInt64 = 0
        var foreign: UInt64 = 0
        var malformed: UInt64 = 0
        var repins: UInt64 = 0
        var attached = false
        /// Ends the current session on its loop.
        var endSession: (@Sendable (String) -> EventLoopFuture<Void>)?
        /// Sockets of its own: a UDP port, a TCP listener, the tcp-active connection.
        var channels: [ObjectIdentifier: any Channel] = [:]
        var refusedLog = RateLimitedLog()
    }

    let state: NIOLockedValueBox<State>

    init(streamID: String, ssrc: UInt32?, mode: GBMode, isStatic: Bool, usesSharedPort: Bool,
         device: (host: String, port: Int)?, timeout: GBReceiverTimeout? = nil) {
        self.streamID = streamID
        self.mode = mode
        self.isStatic = isStatic
        self.usesSharedPort = usesSharedPort
        self.timeout = isStatic ? nil : timeout
        self.state = NIOLockedValueBox(State(ssrc: ssrc, device: device))
    }

    /// Expected SSRC; nil accepts the first SSRC that arrives (own port only).
    public var ssrc: UInt32? { state.withLockedValue { $0.ssrc } }

    /// tcp-active: where the device listens.
    var device: (host: String, port: Int)? { state.withLockedValue { $0.device } }

    public var publishedAs: String? { state.withLockedValue { $0.publishedAs } }

    public var info: GBReceiverInfo {
        state.withLockedValue { s in
            let c = s.ended + s.live
            return GBReceiverInfo(streamID: streamID, ssrc: s.ssrc, mode: mode, port: s.port, sharedPort: usesSharedPort,
                                  state: s.phase, isStatic: isStatic, remoteAddress: s.remote, publishedAs: s.publishedAs,
                                  checkPaused: s.checkPaused, counters: c,
                                  sessions: s.sessions, foreignPackets: s.foreign, malformedPackets: s.malformed,
                                  repins: s.repins, since: s.since, deviceHost: s.device?.host,
                                  localPort: mode == .tcpActive ? s.dialPort : s.port)
        }
    }

    public var isClosed: Bool { state.withLockedValue { $0.closed } }

    /// Claims the receiver for a new session; false when closed or already receiving.
    func attach(remote: String, end: @escaping @Sendable (String) -> EventLoopFuture<Void>) -> Bool {
        state.withLockedValue { s in
            guard !s.closed, !s.attached else { return false }
            s.attached = true
            Self.cancelIdle(&s)
            s.endSession = end
            s.remote = remote
            s.sessions += 1
            s.phase = .admitting
            s.since = Date()
            return true
        }
    }

    /// The session ended: its counters join the totals; the receiver waits again, with no peer.
    func detach() {
        state.withLockedValue { s in
            s.attached = false
            s.endSession = nil
            s.ended = s.ended + s.live
            s.live = GBReceiverCounters()
            s.phase = .waiting
            s.since = Date()
            s.remote = nil
            s.pauseSession = nil
            armIdle(&s)
        }
    }

    var isAttached: Bool { state.withLockedValue { $0.attached } }

    func setPhase(_ phase: GBReceiverState) {
        state.withLockedValue { s in
            guard s.phase != phase else { return }
            s.phase = phase
            s.since = Date()
        }
    }

    /// The live session's counters so far (one lock per packet, as the byte count needs anyway).
    func update(_ counters: GBReceiverCounters) {
        state.withLockedValue { $0.live = counters }
    }

    /// A packet of this stream's SSRC from an address that is not the pinned one; returns the
    /// count so far.
    func countForeign() -> UInt64 {
        state.withLockedValue { s in
            s.foreign &+= 1
            return s.foreign
        }
    }

    func countMalformed() {
        state.withLockedValue { $0.malformed &+= 1 }
    }

    /// The stream moved to `remote` (the pinned address fell silent).
    func repinned(to remote: String) {
        state.withLockedValue { s in
            s.repins &+= 1
            s.remote = remote
        }
    }

    var dialPort: Int? { state.withLockedValue { $0.dialPort } }

    func setDialPort(_ port: Int) {
        state.withLockedValue { $0.dialPort = port }
    }

    func setPort(_ port: Int?) {
        state.withLockedValue { $0.port = port }
    }

    /// Returns the number of suppressed lines when a "refused" line may be logged now.
    func mayLogRefusal() -> Int? {
        state.withLockedValue { $0.refusedLog.shouldLog() }
    }

    /// `dialGeneration`: a tcp-active connection, kept only when the device has not changed since it was dialed.
    func own(_ channel: any Channel, dialGeneration: UInt64? = nil) -> Bool {
        state.withLockedValue { s in
            guard !s.closed, dialGeneration == nil || dialGeneration == s.dialGeneration else { return false }
            s.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func disown(_ channel: any Channel) {
        state.withLockedValue { _ = $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Refuses new sessions from now on; false when it already was closed.
    func markClosed() -> Bool {
        state.withLockedValue { s in
            defer { s.closed = true }
            Self.cancelIdle(&s)
            return !s.closed
        }
    }

    /// Marks the receiver closed, ends its session and closes its sockets.
    func shutdown(reason: String) async {
        let (end, channels) = state.withLockedValue { s -> ((@Sendable (String) -> EventLoopFuture<Void>)?, [any Channel]) in
            s.closed = true
            Self.cancelIdle(&s)
            let end = s.endSession
            let channels = Array(s.channels.values)
            s.channels.removeAll()
            return (end, channels)
        }
        if let end { try? await end(reason).get() }
        for ch in channels { try? await ch.close() }
        state.withLockedValue { s in
            s.attached = false
            s.endSession = nil
            s.phase = .waiting
            s.since = Date()
        }
    }

    // MARK: what the platform changes while it is open

    func setSSRC(_ ssrc: UInt32) {
        state.withLockedValue { $0.ssrc = ssrc }
    }

    /// A session published under `name` (nil: under `streamID`); kept until the next one publishes.
    func setPublishedAs(_ name: String?) {
        state.withLockedValue { $0.publishedAs = name }
    }

    var dialGeneration: UInt64 { state.withLockedValue { $0.dialGeneration } }

    /// tcp-active: dial `device` from now on. Returns the new dial generation and the connections
    /// to the old device that carry no session yet (to close), or nil when it is receiving from
    /// that very device already; throws when it is receiving from another.
    func redirect(to device: (host: String, port: Int)) throws -> (generation: UInt64, stale: [any Channel])? {
        try state.withLockedValue { s in
            if s.attached {
                if let d = s.device, d.host == device.host, d.port == device.port { return nil }
                throw GBError.receiving(streamID, from: s.remote ?? "?")
            }
            s.device = device
            s.port = device.port
            s.dialGeneration &+= 1
            let stale = Array(s.channels.values)
            s.channels.removeAll()
            return (s.dialGeneration, stale)
        }
    }

    /// Pauses or resumes the no-media checks: the receiver timeout and the live session's
    /// Source receive timeout.
    func setCheckPaused(_ paused: Bool) {
        let pause = state.withLockedValue { s -> (@Sendable (Bool) -> Void)? in
            s.checkPaused = paused
            if paused { Self.cancelIdle(&s) } else if !s.attached { armIdle(&s) }
            return s.pauseSession
        }
        pause?(paused)
    }

    /// The live session publishes: `pause` reaches its Source from now on. Returns whether the
    /// checks are paused (then the session starts paused).
    func sessionPublishing(pause: @escaping @Sendable (Bool) -> Void) -> Bool {
        state.withLockedValue { s in
            s.pauseSession = pause
            return s.checkPaused
        }
    }

    /// Starts the receiver-timeout countdown (after open) unless it is closed, receiving or paused.
    func startIdleTimer() {
        state.withLockedValue { armIdle(&$0) }
    }

    private func armIdle(_ s: inout State) {
        Self.cancelIdle(&s)
        guard let timeout, !s.closed, !s.attached, !s.checkPaused else { return }
        let generation = s.idleGeneration
        s.idleTask = timeout.loop.scheduleTask(in: .milliseconds(Int64(timeout.ms))) { [self] in
            let due = state.withLockedValue { s in
                s.idleGeneration == generation && !s.closed && !s.attached && !s.checkPaused
            }
            if due { timeout.expired(self) }
        }
    }

    private static func cancelIdle(_ s: inout State) {
        s.idleTask?.cancel()
        s.idleTask = nil
        s.idleGeneration &+= 1
    }
}

/// `gb28181.receiver_timeout_ms` as a receiver runs it: the countdown's loop and what expiry does.
struct GBReceiverTimeout: Sendable {
    var ms: Int
    var loop: any EventLoop
    var expired: @Sendable (GBReceiver) -> Void
}
