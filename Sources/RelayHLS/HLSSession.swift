import NIOCore
import RelayCore
import Synchronization

/// One HLS viewer: a player of its stream's HLS TransStream, so the core counts it (admin
/// players list and kick, on_play_done, idle timeout, traffic totals) like any player.
///
/// It receives no media: HLS players fetch segments by request, and the stream's segmenter (a
/// sink of the same TransStream) already holds them, shared by every session. It ends after
/// `session_timeout_ms` without a request, on a kick, or with the source. Its sink calls run on
/// its stream's event loop; requests on any thread only touch its atomics.
final class HLSSession: InspectableSink, @unchecked Sendable {
    let id: SinkID
    /// The unguessable id in its URLs (`?session=`, `STREAM.hls/TOKEN/…`).
    let token: String
    let info: SessionInfo
    let stream: HLSStream
    var eventLoop: any EventLoop { stream.eventLoop }
    private let startedAt = NIODeadline.now()
    /// The expiry check runs every quarter timeout of the loop's time (no clock read per
    /// request); a session without a request for `ticksPerTimeout` checks (between 1 and 1.25
    /// timeouts) ends.
    private let tick: TimeAmount
    static let ticksPerTimeout = 5
    private let idleTicks = Atomic<Int>(0)
    private var expiry: Scheduled<Void>?
    private let sent = Atomic<UInt64>(0)
    private let gone = Atomic<Bool>(false)

    var bytesSent: UInt64 { sent.load(ordering: .relaxed) }
    /// Ended (timeout, kick, source end): its URLs are 404.
    var isGone: Bool { gone.load(ordering: .relaxed) }

    init(id: SinkID, token: String, info: SessionInfo, stream: HLSStream, timeoutMs: Int) {
        self.id = id
        self.token = token
        self.info = info
        self.stream = stream
        self.tick = .milliseconds(max(Int64(timeoutMs) / Int64(Self.ticksPerTimeout - 1), 1))
    }

    // MARK: MediaSink: the segmenter has the bytes; a session only counts.

    func start(_ startup: StartupBytes) {}
    func deliver(_ segment: Segment) {}
    /// The segmenter has the bytes; the session only counts as a player.
    var receivesSegments: Bool { false }

    func sourceEnded() {
        leave(detach: false)
    }

    func kick(reason: String) {
        leave(detach: true)
    }

    func snapshot(kind: OutputKind) -> PlayerSnapshot {
        PlayerSnapshot(id: id, kind: kind, session: info, bytesSent: bytesSent, pendingBytes: 0, segmentsDropped: 0,
                       seconds: Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9)
    }

    // MARK: requests

    /// A request arrived (any thread): the session lives on.
    func touch() {
        idleTicks.store(0, ordering: .relaxed)
    }

    func served(_ bytes: Int) {
        sent.wrappingAdd(UInt64(truncatingIfNeeded: bytes), ordering: .relaxed)
    }

    func armExpiry() {
        expiry = eventLoop.scheduleTask(in: tick) { [self] in self.checkExpiry() }
    }

    private func checkExpiry() {
        guard !isGone else { return }
        if idleTicks.wrappingAdd(1, ordering: .relaxed).newValue >= Self.ticksPerTimeout {
            leave(detach: true)
        } else {
            armExpiry()
        }
    }

    /// `detach`: tell the source (on_play_done); not when the source ended it.
    private func leave(detach: Bool) {
        guard !gone.exchange(true, ordering: .relaxed) else { return }
        expiry?.cancel()
        expiry = nil
        stream.remove(self, detach: detach)
    }
}
