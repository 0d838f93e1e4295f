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
    /// Expected SSRC; nil accepts the first SSRC that arrives (own port only).
    public let ssrc: UInt32?
    public let mode: GBMode
    public let isStatic: Bool
    public let usesSharedPort: Bool
    /// tcp-active: where the device listens.
    let device: (host: String, port: Int)?

    struct State {
        var port: Int?
        var closed = false
        var phase: GBReceiverState = .waiting
        var remote: String?
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

    let state = NIOLockedValueBox(State())

    init(streamID: String, ssrc: UInt32?, mode: GBMode, isStatic: Bool, usesSharedPort: Bool,
         device: (host: String, port: Int)?) {
        self.streamID = streamID
        self.ssrc = ssrc
        self.mode = mode
        self.isStatic = isStatic
        self.usesSharedPort = usesSharedPort
        self.device = device
    }

    public var info: GBReceiverInfo {
        state.withLockedValue { s in
            let c = s.ended + s.live
            return GBReceiverInfo(streamID: streamID, ssrc: ssrc, mode: mode, port: s.port, sharedPort: usesSharedPort,
                                  state: s.phase, isStatic: isStatic, remoteAddress: s.remote, counters: c,
                                  sessions: s.sessions, foreignPackets: s.foreign, malformedPackets: s.malformed,
                                  repins: s.repins, since: s.since, deviceHost: device?.host)
        }
    }

    public var isClosed: Bool { state.withLockedValue { $0.closed } }

    /// Claims the receiver for a new session; false when closed or already receiving.
    func attach(remote: String, end: @escaping @Sendable (String) -> EventLoopFuture<Void>) -> Bool {
        state.withLockedValue { s in
            guard !s.closed, !s.attached else { return false }
            s.attached = true
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

    func setPort(_ port: Int?) {
        state.withLockedValue { $0.port = port }
    }

    /// Returns the number of suppressed lines when a "refused" line may be logged now.
    func mayLogRefusal() -> Int? {
        state.withLockedValue { $0.refusedLog.shouldLog() }
    }

    func own(_ channel: any Channel) -> Bool {
        state.withLockedValue { s in
            guard !s.closed else { return false }
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
            return !s.closed
        }
    }

    /// Marks the receiver closed, ends its session and closes its sockets.
    func shutdown(reason: String) async {
        let (end, channels) = state.withLockedValue { s -> ((@Sendable (String) -> EventLoopFuture<Void>)?, [any Channel]) in
            s.closed = true
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
}
