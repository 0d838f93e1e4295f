import Foundation
import Logging
import NIOCore
import RelayCore

/// The life of one pull, on its loop: connect the upstream, admit it as the stream's publisher on
/// its first tracks, feed the Source; on a failure or an upstream end, let players wait
/// (`publisher_grace_ms`) and reconnect after the backoff. On demand: started by `want`, stopped
/// `on_demand_idle_ms` after the last player left.
final class PullMachine {
    private let pull: Pull
    private let env: PullEnvironment
    private let loop: any EventLoop
    private var logger: Logger
    private let backoff: Backoff
    private let timeouts: UpstreamTimeouts

    private var state = PullSnapshot.State.idle
    private var since = Date()
    /// Bumped by every attempt and stop: callbacks of older ones are ignored.
    private var attempt = 0
    private var attempts = 0
    private var reconnects = 0
    /// Failures since the pull last played: the backoff's exponent.
    private var failures = 0
    private var lastError: String?
    private var upstream: (any Upstream)?
    private var source: Source?
    /// The last attempt's Source while its players wait for the next (`publisher_grace_ms`).
    private var lingering: Source?
    private var admitting = false
    private var held = PullHeldEvents()
    private var retryTimer: Scheduled<Void>?
    private var tickTimer: Scheduled<Void>?
    private var bytesIn: UInt64 = 0
    /// (time, bytesIn) at the last few ticks: the bitrate's window.
    private var samples: [(NIODeadline, UInt64)] = []
    private var bitrateKbps = 0.0
    private var players = 0
    /// When a player last asked for or watched the stream (on demand).
    private var lastWanted: NIODeadline

    static let bitrateSamples = 5
    /// Retries wait up to 20 % less than nominal, so pulls of one failed origin do not return in step.
    static let jitter = 0.2

    init(pull: Pull, env: PullEnvironment) {
        self.pull = pull
        self.env = env
        loop = pull.loop
        var logger = env.context.logger
        logger[metadataKey: "pull"] = "\(pull.spec.stream)"
        self.logger = logger
        // Config keeps 50 ms ≤ min ≤ max, which Backoff requires.
        backoff = Backoff(initial: Double(env.config.reconnectMinMs) / 1000, maximum: Double(env.config.reconnectMaxMs) / 1000,
                          multiplier: 2, jitter: Self.jitter)
        timeouts = UpstreamTimeouts(connect: .milliseconds(Int64(env.config.connectTimeoutMs)),
                                    receive: .milliseconds(Int64(env.config.receiveTimeoutMs)))
        lastWanted = pull.loop.now
    }

    private var spec: PullSpec { pull.spec }

    func begin() {
        if spec.onDemand {
            publish()
        } else {
            connect()
        }
    }

    func want() {
        lastWanted = loop.now
        guard state == .idle else { return }
        logger.info("on-demand pull of \(spec.stream) starts: a player asked for it")
        connect()
    }

    // MARK: - Attempts

    private func connect() {
        attempt &+= 1
        attempts += 1
        set(.connecting)
        armTick()
        let current = attempt
        let events = PullAttemptEvents(machine: self, attempt: current)
        env.connect(spec, loop, timeouts, logger, events).assumeIsolated().whenComplete { [self] result in
            guard current == attempt else {
                if case .success(let late) = result { late.close() }
                return
            }
            switch result {
            case .success(let session):
                upstream = session
            case .failure(let error):
                attemptEnded("\(error)", attempt: current)
            }
        }
    }

    func received(_ event: MediaEvent, attempt current: Int) {
        guard current == attempt, state == .connecting || state == .playing else { return }
        switch event {
        case .packet(let packet):
            bytesIn &+= UInt64(packet.payload.readableBytes)
        case .notice(let text):
            logger.info("pull of \(spec.stream): \(text)")
            return
        case .stream, .tracks:
            break
        }
        if let source {
            source.assumeIsolated { $0.receive(event) }
            return
        }
        if !admitting {
            guard case .packet = event else {
                admitting = true
                held.add(event)
                admit(attempt: current)
                return
            }
            return  // media before any track: nothing could decode it
        }
        held.add(event)
    }

    /// The upstream's first tracks: admission as the stream's publisher (hooks, duplicate policy,
    /// limits); a refusal ends the attempt.
    private func admit(attempt current: Int) {
        var params = ["pull_url": UpstreamURL(spec.url)?.redacted ?? ""]
        if let origin = pull.origin { params["cluster_origin"] = origin }
        let remote = upstream?.remoteAddress ?? UpstreamURL(spec.url).map { "\($0.scheme.rawValue) \($0.host):\($0.port)" } ?? "?"
        let session = SessionInfo(sessionID: String(env.context.nextID()), protocolName: "pull", remoteAddress: remote,
                                  params: params)
        env.context.admitPublisher(PublishRequest(streamID: spec.stream, session: session), on: loop) { [self] result in
            guard current == attempt, admitting else {
                if case .success(let late) = result { late.assumeIsolated { $0.close(reason: "pull attempt ended during admission") } }
                return
            }
            admitting = false
            switch result {
            case .success(let admitted):
                started(admitted)
            case .failure(let refusal):
                attemptEnded("refused: \(refusal)", attempt: current)
            }
        }
    }

    private func started(_ admitted: Source) {
        source = admitted
        lingering = nil
        failures = 0
        lastError = nil
        lastWanted = loop.now
        set(.playing)
        logger.info("pull of \(spec.stream) plays from \(UpstreamURL(spec.url)?.redacted ?? "?")")
        let pull = self.pull
        let loop = self.loop
        let events = held.drain()
        admitted.assumeIsolated { source in
            for event in events { source.receive(event) }
            source.whenClosed { loop.execute { pull.sourceClosed(admitted) } }
        }
    }

    /// The attempt failed or its upstream ended: players wait for the next one (or, for an
    /// ephemeral pull that played, get the end of stream and the pull goes).
    func attemptEnded(_ reason: String, attempt current: Int) {
        guard current == attempt, state == .connecting || state == .playing else { return }
        attempt &+= 1
        closeUpstream()
        lastError = reason
        logger.warning("pull of \(spec.stream) from \(UpstreamURL(spec.url)?.redacted ?? "?") ended: \(reason)")
        if let source {
            self.source = nil
            if pull.ephemeral {
                source.assumeIsolated { $0.close(reason: "upstream ended: \(reason)") }
                finish(reason: "upstream ended: \(reason)")
                return
            }
            source.assumeIsolated { $0.publisherLeft(reason: "pull: \(reason)") }
            lingering = source
        }
        scheduleRetry()
    }

    /// The local stream closed without this pull (an operator, a hook's timeout answer): the
    /// upstream goes too and the pull tries again.
    func sourceClosed(_ closed: Source) {
        if lingering === closed { lingering = nil }
        guard let source, source === closed else { return }
        self.source = nil
        attemptEnded("the local stream closed", attempt: attempt)
    }

    private func scheduleRetry() {
        let delay = TimeAmount.nanoseconds(Int64(backoff.delay(attempt: failures, random: env.random()) * 1e9))
        failures += 1
        set(.retrying)
        let current = attempt
        retryTimer = loop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard current == attempt, state == .retrying else { return }
            reconnects += 1
            env.reconnected()
            connect()
        }
    }

    private func closeUpstream() {
        let session = upstream
        upstream = nil
        held = PullHeldEvents()
        admitting = false
        session?.close()
    }

    // MARK: - Stopping

    /// Removed (`final`) or idle: the upstream and the local stream close.
    func stop(reason: String, final: Bool) {
        attempt &+= 1
        retryTimer?.cancel()
        retryTimer = nil
        tickTimer?.cancel()
        tickTimer = nil
        closeUpstream()
        for current in [source, lingering].compactMap({ $0 }) {
            current.assumeIsolated { $0.close(reason: "pull stopped: \(reason)") }
        }
        source = nil
        lingering = nil
        samples.removeAll()
        bitrateKbps = 0
        players = 0
        logger.info("pull of \(spec.stream) stopped: \(reason)")
        if !final { set(.idle) }
    }

    /// An ephemeral pull's end: it leaves the manager.
    private func finish(reason: String) {
        stop(reason: reason, final: true)
        env.removed(pull)
    }

    // MARK: - Ticks: bitrate, players, on-demand idleness

    private var tickInterval: TimeAmount {
        .milliseconds(Int64(min(1000, max(100, env.config.onDemandIdleMs / 2))))
    }

    private func armTick() {
        guard tickTimer == nil else { return }
        tickTimer = loop.assumeIsolated().scheduleTask(in: tickInterval) { [self] in
            tickTimer = nil
            tick()
        }
    }

    private func tick() {
        let now = loop.now
        samples.append((now, bytesIn))
        if samples.count > Self.bitrateSamples { samples.removeFirst() }
        if let (then, bytes) = samples.first, now > then {
            let seconds = Double((now - then).nanoseconds) / 1e9
            bitrateKbps = (Double(bytesIn &- bytes) * 8 / 1000 / seconds * 10).rounded() / 10
        }
        players = (source ?? lingering).map { $0.assumeIsolated { $0.snapshot().players.values.reduce(0, +) } } ?? 0
        if spec.onDemand {
            if players > 0 { lastWanted = now }
            let idleMs = env.config.onDemandIdleMs
            if state != .connecting, now - lastWanted >= .milliseconds(Int64(idleMs)) {
                if pull.ephemeral {
                    finish(reason: "no players for \(idleMs) ms")
                } else {
                    stop(reason: "no players for \(idleMs) ms", final: false)
                }
                return
            }
        }
        publish()
        armTick()
    }

    // MARK: - Status

    private func set(_ next: PullSnapshot.State) {
        if next != state {
            state = next
            since = Date()
        }
        publish()
    }

    private func publish() {
        pull.publish(PullSnapshot(
            stream: spec.stream, url: UpstreamURL(spec.url)?.redacted ?? "", transport: spec.transport.rawValue,
            onDemand: spec.onDemand, origin: pull.origin, state: state, since: iso8601(since), attempts: attempts,
            reconnects: reconnects, lastError: lastError, bitrateKbps: bitrateKbps, bytesIn: bytesIn, players: players))
    }
}
