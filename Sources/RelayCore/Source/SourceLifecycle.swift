import Logging
import NIOCore

/// A source's hooks, timers and recording: on_publish_done, on_play_done, `receive_timeout`
/// (no media), `idle_timeout` (no players) and the recording sink.
///
/// Confined to the source's event loop (`loop`; entry points assert it): the Source calls it from
/// its isolation (which is that loop) and its timers run there. Hook answers arrive on a Task and
/// hop back with `execute`, so no event loop ever waits for a hook.
final class SourceLifecycle: @unchecked Sendable {
    private enum Timer { case receive, idle }

    private let id: String
    private let loop: any EventLoop
    private let publisher: SessionInfo
    private let context: RelayContext
    private let config: RelayConfig.Source
    private let logger: Logger
    private weak var source: Source?

    private var started = false
    private var closed = false
    private var ready = false
    private var lastMedia = NIODeadline.now()
    private var receiveTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    /// A timeout hook is waiting for its answer (the timer is not re-armed meanwhile).
    private var askingReceive = false
    private var askingIdle = false
    /// Players (not background sinks) by id, for on_play_done and the idle timer.
    private var players: [SinkID: (sink: any MediaSink, kind: OutputKind)] = [:]
    /// Background sinks that count as readers (cascade senders): they keep the stream from idling.
    private var watchers: Set<SinkID> = []
    /// `Source.pauseReceiveTimeout`: silence is expected (a paused playback), no receive timeout.
    private var receivePaused = false
    /// Set by the publish hook's answer (`{"record": …}`) or `Source.setRecording`; overrides config.
    private var recordOverride: Bool?
    private var recording: RecordingAttachment?

    init(id: String, loop: any EventLoop, publisher: SessionInfo, context: RelayContext, logger: Logger) {
        self.id = id
        self.loop = loop
        self.publisher = publisher
        self.context = context
        self.config = context.config.source
        self.logger = logger
    }

    // MARK: called by the Source

    /// The registry accepted the source: timers run and on_publish_done will fire from now on.
    func start(_ source: Source) {
        loop.assertInEventLoop()
        guard !started, !closed else { return }
        started = true
        self.source = source
        lastMedia = .now()
        if receiveTimerWanted { arm(.receive, in: .milliseconds(Int64(config.receiveTimeoutMs))) }
        if isUnwatched { armIdle() }
    }

    /// No player and no reader (cascade sender) is attached.
    private var isUnwatched: Bool { players.isEmpty && watchers.isEmpty }

    @inline(__always)
    func mediaArrived() {
        lastMedia = .now()
    }

    func sourceReady(_ source: Source) {
        loop.assertInEventLoop()
        ready = true
        if self.source == nil { self.source = source }
        if recordOverride ?? context.recorder?.recordsByConfig(id) ?? false { startRecording() }
    }

    func playerAttached(_ sink: any MediaSink, kind: OutputKind) {
        loop.assertInEventLoop()
        guard !closed else { return }
        if let background = sink as? any BackgroundSink {
            guard background.keepsStreamWatched else { return }
            watchers.insert(sink.id)
        } else {
            players[sink.id] = (sink, kind)
        }
        idleTimer?.cancel()
        idleTimer = nil
    }

    func playerDetached(_ sink: any MediaSink) {
        loop.assertInEventLoop()
        if watchers.remove(sink.id) == nil {
            guard let player = players.removeValue(forKey: sink.id) else { return }
            firePlayDone(player.sink, kind: player.kind, reason: "player left")
        }
        if isUnwatched && started && !closed { armIdle() }
    }

    /// Stops (or restarts) the receive timer: no media is expected while paused.
    func pauseReceiveTimeout(_ paused: Bool) {
        loop.assertInEventLoop()
        guard receivePaused != paused, !closed else { return }
        receivePaused = paused
        if paused {
            receiveTimer?.cancel()
            receiveTimer = nil
        } else {
            lastMedia = .now()
            if started && receiveTimerWanted { arm(.receive, in: .milliseconds(Int64(config.receiveTimeoutMs))) }
        }
    }

    func setRecording(_ on: Bool) {
        loop.assertInEventLoop()
        recordOverride = on
        guard ready, !closed else { return }
        if on {
            startRecording()
        } else if let attachment = recording {
            recording = nil
            source?.assumeIsolated { $0.detach(attachment.sink, kind: attachment.kind) }
            let sink = attachment.sink
            sink.eventLoop.execute { sink.sourceEnded() }
        }
    }

    var isRecording: Bool { recording != nil }

    // MARK: publisher reconnect grace

    /// What a lingering source's lifecycle passes on: its players (for on_play_done and the idle
    /// timer) and its recording, which go on in the source of the publisher that came back.
    struct Handover {
        var players: [SinkID: (sink: any MediaSink, kind: OutputKind)]
        var watchers: Set<SinkID>
        var recording: RecordingAttachment?
    }

    /// The publisher dropped and players wait for it: no media is expected meanwhile.
    func publisherLost() {
        loop.assertInEventLoop()
        receiveTimer?.cancel()
        receiveTimer = nil
    }

    func handOver() -> Handover {
        loop.assertInEventLoop()
        let handover = Handover(players: players, watchers: watchers, recording: recording)
        players.removeAll()
        watchers.removeAll()
        recording = nil
        return handover
    }

    func adopt(_ handover: Handover) {
        loop.assertInEventLoop()
        guard !closed else {
            for player in handover.players.values { firePlayDone(player.sink, kind: player.kind, reason: "stream ended") }
            return
        }
        players.merge(handover.players) { a, _ in a }
        watchers.formUnion(handover.watchers)
        if recording == nil { recording = handover.recording }
        if !isUnwatched {
            idleTimer?.cancel()
            idleTimer = nil
        }
    }

    func sourceClosed(reason: String, bytesIn: UInt64, packetsIn: UInt64, startedAt: NIODeadline) {
        loop.assertInEventLoop()
        guard !closed else { return }
        closed = true
        receiveTimer?.cancel()
        idleTimer?.cancel()
        receiveTimer = nil
        idleTimer = nil
        recording = nil  // its TransStream ended with the others: the file closes and fires on_record
        let leaving = players.values
        players.removeAll()
        watchers.removeAll()
        for player in leaving { firePlayDone(player.sink, kind: player.kind, reason: "stream ended") }
        guard started else { return }
        context.notify(.publishDone, stream: id, session: publisher, extra: [
            "reason": .string(reason),
            "duration_ms": .number(Double((NIODeadline.now() - startedAt).nanoseconds / 1_000_000)),
            "bytes_in": .number(Double(bytesIn)),
            "packets_in": .number(Double(packetsIn)),
        ])
    }

    // MARK: timers

    private var receiveTimerWanted: Bool {
        config.receiveTimeoutMs > 0 && (config.receiveTimeoutAction == "close" || context.hasHook(.receiveTimeout))
    }

    private var idleTimerWanted: Bool {
        config.idleTimeoutMs > 0 && (config.idleTimeoutAction == "close" || context.hasHook(.idleTimeout))
    }

    private func armIdle() {
        guard idleTimerWanted, idleTimer == nil, !askingIdle else { return }
        arm(.idle, in: .milliseconds(Int64(config.idleTimeoutMs)))
    }

    private func arm(_ timer: Timer, in delay: TimeAmount) {
        let task = loop.scheduleTask(in: delay) { [self] in self.fired(timer) }
        switch timer {
        case .receive: receiveTimer?.cancel(); receiveTimer = task
        case .idle: idleTimer?.cancel(); idleTimer = task
        }
    }

    private func fired(_ timer: Timer) {
        guard !closed else { return }
        switch timer {
        case .receive:
            receiveTimer = nil
            guard !askingReceive, !receivePaused else { return }
            let timeout = TimeAmount.milliseconds(Int64(config.receiveTimeoutMs))
            let quiet = NIODeadline.now() - lastMedia
            if quiet < timeout {
                arm(.receive, in: timeout - quiet)
                return
            }
            let ms = quiet.nanoseconds / 1_000_000
            decide(.receive, event: .receiveTimeout, action: config.receiveTimeoutAction,
                   closeReason: "no media for \(ms) ms",
                   extra: ["timeout_ms": .number(Double(config.receiveTimeoutMs)), "quiet_ms": .number(Double(ms))])
        case .idle:
            idleTimer = nil
            guard isUnwatched, !askingIdle else { return }
            decide(.idle, event: .idleTimeout, action: config.idleTimeoutAction,
                   closeReason: "no players for \(config.idleTimeoutMs) ms",
                   extra: ["timeout_ms": .number(Double(config.idleTimeoutMs))])
        }
    }

    /// Asks the hook (or applies the configured action without one): close unless kept.
    private func decide(_ timer: Timer, event: HookEvent, action: String, closeReason: String, extra: [String: JSONValue]) {
        guard context.hasHook(event) else {
            if action == "close" {
                close(closeReason)
            } else {
                keep(timer)
            }
            return
        }
        setAsking(timer, true)
        logger.info("\(closeReason): asking \(event.rawValue)")
        let context = self.context, id = self.id, publisher = self.publisher
        Task {
            let decision = await context.authorize(event, stream: id, session: publisher, extra: extra)
            self.loop.execute { self.answered(timer, event: event, decision: decision, closeReason: closeReason) }
        }
    }

    private func answered(_ timer: Timer, event: HookEvent, decision: HookDecision, closeReason: String) {
        setAsking(timer, false)
        guard !closed else { return }
        // The condition may have ended while the hook was thinking.
        switch timer {
        case .receive where NIODeadline.now() - lastMedia < .milliseconds(Int64(config.receiveTimeoutMs)):
            keep(timer)
            return
        case .idle where !isUnwatched:
            return
        default:
            break
        }
        if decision.keep {
            logger.info("\(event.rawValue) answered keep: the source stays")
            keep(timer)
        } else {
            let why = decision.allowed ? "answered without {\"keep\": true}" : decision.reason
            close("\(closeReason) (\(event.rawValue): \(why))")
        }
    }

    private func setAsking(_ timer: Timer, _ value: Bool) {
        switch timer {
        case .receive: askingReceive = value
        case .idle: askingIdle = value
        }
    }

    /// Kept: check again after another full timeout.
    private func keep(_ timer: Timer) {
        switch timer {
        case .receive: arm(.receive, in: .milliseconds(Int64(config.receiveTimeoutMs)))
        case .idle: if isUnwatched { armIdle() }
        }
    }

    private func close(_ reason: String) {
        guard let source else { return }
        source.assumeIsolated { $0.close(reason: reason) }
    }

    // MARK: hooks and recording

    private func firePlayDone(_ sink: any MediaSink, kind: OutputKind, reason: String) {
        guard context.hasHook(.playDone) else { return }
        let context = self.context, id = self.id
        if let inspectable = sink as? any InspectableSink {
            inspectable.eventLoop.execute {
                let snap = inspectable.snapshot(kind: kind)
                context.notify(.playDone, stream: id, session: snap.session, extra: [
                    "reason": .string(reason), "player_id": .number(Double(snap.id)), "kind": .string(kind.description),
                    "duration_ms": .number((snap.seconds * 1000).rounded()), "bytes_sent": .number(Double(snap.bytesSent)),
                ])
            }
        } else {
            context.notify(.playDone, stream: id, session: nil, extra: [
                "reason": .string(reason), "player_id": .number(Double(sink.id)), "kind": .string(kind.description),
            ])
        }
    }

    private func startRecording() {
        guard recording == nil, let source else { return }
        guard let recorder = context.recorder,
              let attachment = recorder.makeRecording(stream: id, publisher: publisher, eventLoop: loop) else {
            logger.warning("recording requested but not available")
            return
        }
        recording = attachment
        let attached = source.assumeIsolated { $0.attach(attachment.sink, kind: attachment.kind, muxer: attachment.muxer) }
        if !attached {
            recording = nil
            let sink = attachment.sink
            sink.eventLoop.execute { sink.sourceEnded() }
        }
    }
}

extension Source {
    /// Called by the registry once the source holds its stream id (`old`: the lingering source
    /// whose players it takes over once playable).
    nonisolated func registered(takingOverFrom old: Source? = nil) {
        if eventLoop.inEventLoop {
            assumeIsolated { $0.start(takingOverFrom: old) }
        } else {
            eventLoop.execute { self.assumeIsolated { $0.start(takingOverFrom: old) } }
        }
    }

    private func start(takingOverFrom old: Source?) {
        if let old { takeOverLater(from: old) }
        lifecycle.start(self)
    }

    /// Turns recording on or off for this stream, overriding `record` in config (the on_publish
    /// answer `{"record": true}` does this). Takes effect at once when the stream is playable,
    /// otherwise when it becomes playable.
    public func setRecording(_ on: Bool) {
        lifecycle.setRecording(on)
    }

    public var isRecording: Bool { lifecycle.isRecording }

    /// Suspends the no-media timeout (`source.receive_timeout_ms`) while a device is told to
    /// pause (a GB28181 playback paused by the platform); resuming starts a full timeout afresh.
    public func pauseReceiveTimeout(_ paused: Bool) {
        lifecycle.pauseReceiveTimeout(paused)
    }
}
