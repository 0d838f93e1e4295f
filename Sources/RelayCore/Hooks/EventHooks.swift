import CoreMetrics
import NIOCore

/// The operator's hooks (DESIGN.md "Hooks"); `hooks/README.md` documents every body field.
public enum HookEvent: String, Sendable, CaseIterable {
    case started = "on_started"
    case publish = "on_publish"
    case publishDone = "on_publish_done"
    case play = "on_play"
    case playDone = "on_play_done"
    case receiveTimeout = "on_receive_timeout"
    case idleTimeout = "on_idle_timeout"
    case record = "on_record"
    /// A GB28181 cascade sender stopped (operator, stream ended, peer gone, connect timeout).
    case senderStop = "on_sender_stop"
    /// A stream became playable (its tracks are known): `tracks` describes them.
    case streamReady = "on_stream_ready"
    /// A player asked for a stream that is not published (it then waits `source.play_wait_ms`).
    case streamNotFound = "on_stream_not_found"
    /// A GB28181 receiver got no media for `gb28181.receiver_timeout_ms` and closed.
    case receiverTimeout = "on_receiver_timeout"
}

/// Hook calls are budgeted (calls in flight, HTTP connections) per class, so one class cannot
/// use up another's: players flooding on_play never starve publishers' on_publish.
public enum HookClass: String, Sendable, CaseIterable {
    case publish
    case play
    /// Notifications and the timeout decisions.
    case other

    public init(_ event: HookEvent) {
        switch event {
        case .publish: self = .publish
        case .play: self = .play
        default: self = .other
        }
    }
}

/// The answer to a hook that decides something (on_publish, on_play, the timeouts).
public struct HookDecision: Sendable, Equatable {
    /// 2xx (or no hook configured, or a fail-open hook that did not answer).
    public var allowed: Bool
    /// The HTTP status the hook answered; 0 when it did not answer (timeout, connection error,
    /// too many hooks in flight) or when no hook is configured.
    public var status: Int
    /// Why, for logs and for the client: the answer's `"reason"` string when it has one.
    public var reason: String
    /// The answer's body when it is a JSON object (`{"record": true}`, `{"keep": true}` …).
    public var answer: JSONValue?

    public init(allowed: Bool, status: Int, reason: String, answer: JSONValue? = nil) {
        self.allowed = allowed
        self.status = status
        self.reason = reason
        self.answer = answer
    }

    /// No hook configured for the event.
    public static let notConfigured = HookDecision(allowed: true, status: 0, reason: "no hook configured")

    /// `{"keep": true}` in a 2xx answer: on_receive_timeout / on_idle_timeout keep the source.
    public var keep: Bool { allowed && answer?["keep"] == .bool(true) }

    /// `{"record": true|false}` in a 2xx on_publish answer; nil when the answer does not say.
    public var record: Bool? {
        guard allowed, case .bool(let b)? = answer?["record"] else { return nil }
        return b
    }

    /// `{"stream_replace": "new/id"}` in a 2xx on_publish answer: the stream is published under
    /// this id instead (a GB28181 platform names an SSRC-keyed receiver after its device/channel).
    public var streamReplace: String? {
        guard allowed, case .string(let id)? = answer?["stream_replace"], !id.isEmpty else { return nil }
        return id
    }

    /// `{"enable_audio": false}` in a 2xx on_publish answer: the stream is published without its
    /// audio; nil when the answer does not say.
    public var enableAudio: Bool? {
        guard allowed, case .bool(let b)? = answer?["enable_audio"] else { return nil }
        return b
    }

    /// The HTTP status an HTTP player gets when denied: 401 when the hook answered 401, else 403.
    public var deniedHTTPStatus: Int { status == 401 ? 401 : 403 }
}

/// Where a stream server asks the operator's service (HTTP hooks: RelayHooks' `HTTPEventHooks`).
///
/// Implementations never block the caller's thread: `authorize` suspends (bounded by the hook's
/// timeout), `notify` returns at once. Sessions normally call `RelayContext.authorize` / `notify`,
/// which answer `.notConfigured` at no cost when no hooks are set.
public protocol EventHooks: Sendable {
    /// Whether a hook URL is configured for `event` (callers skip the hop when not).
    func isConfigured(_ event: HookEvent) -> Bool

    /// Asks the hook and waits for its answer, at most its `timeout_ms` (+ a few ms).
    /// A hook that is not configured allows.
    func authorize(_ event: HookEvent, stream: String, session: SessionInfo,
                   extra: [String: JSONValue]) async -> HookDecision

    /// Fire-and-forget; dropped (and logged) beyond the bound of hooks in flight.
    /// `stream` / `session` are nil for server events (on_started).
    func notify(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue])
}

extension RelayContext {
    /// Asks the operator whether a session may publish or play; every protocol calls this once
    /// before it accepts the session. One line per protocol:
    ///
    ///     let decision = await relay.authorize(.publish, stream: id, session: info)
    ///     guard decision.allowed else { /* refuse with decision.reason */ }
    ///
    /// How to refuse: RTMP sends an error `onStatus` (`NetStream.Publish.Unauthorized` /
    /// `NetStream.Play.Unauthorized`) then closes; HTTP answers `decision.deniedHTTPStatus`
    /// (401 when the hook answered 401, else 403); RTSP answers 401 or 403 the same way;
    /// GB28181 / JT/T 1078 call it on their first packet (before registering the Source) and close
    /// the connection (or drop the SSRC) when denied. After a publish is allowed, apply
    /// `decision.record` with `source.setRecording(_:)` when it is non-nil.
    ///
    /// Answers at once with `.notConfigured` (allowed) when no hook is configured for `event`,
    /// otherwise within the hook's timeout. Never call it while holding an event loop: `await` it
    /// from a Task and hop back (see RTMPServerHandler+Commands.swift).
    public func authorize(_ event: HookEvent, stream: String, session: SessionInfo,
                          extra: [String: JSONValue] = [:]) async -> HookDecision {
        guard let hooks, hooks.isConfigured(event) else { return .notConfigured }
        return await hooks.authorize(event, stream: stream, session: session, extra: extra)
    }

    /// Whether `event` has a hook (so a session can skip the task hop when it has none).
    public func hasHook(_ event: HookEvent) -> Bool {
        hooks?.isConfigured(event) ?? false
    }

    /// Fire-and-forget notification (on_publish_done, on_play_done, on_record …).
    public func notify(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue] = [:]) {
        guard let hooks, hooks.isConfigured(event) else { return }
        hooks.notify(event, stream: stream, session: session, extra: extra)
    }
}

/// A sink that is not a player (a recording, a cascade sender): it fires no on_play_done and is
/// not counted in the players' traffic totals.
public protocol BackgroundSink: MediaSink {
    /// Whether it counts as a reader: keeps the stream from being idle (no on_idle_timeout) and
    /// is counted among its outputs' viewers. A recording does not; a cascade sender does (the
    /// stream is watched upstream).
    var keepsStreamWatched: Bool { get }
}

extension BackgroundSink {
    public var keepsStreamWatched: Bool { false }
}

/// What a source attaches to record itself (see `StreamRecorder`).
public struct RecordingAttachment: Sendable {
    public var sink: any MediaSink
    /// The TransStream kind, e.g. `.flvFile`.
    public var kind: OutputKind
    public var muxer: MuxerFactory

    public init(sink: any MediaSink, kind: OutputKind, muxer: MuxerFactory) {
        self.sink = sink
        self.kind = kind
        self.muxer = muxer
    }
}

/// Makes the recording sink of a stream (RelayFLV's `FLVFileRecorder`). A Source asks for one
/// when it becomes playable with recording on (config `record` or the on_publish answer).
public protocol StreamRecorder: Sendable {
    /// Whether config (`record`, which the recorder's module owns) records `stream`.
    func recordsByConfig(_ stream: String) -> Bool
    func makeRecording(stream: String, publisher: SessionInfo, eventLoop: any EventLoop) -> RecordingAttachment?
}

extension RelayMetrics {
    /// A hook call answered (or a notification dropped) at once because its class had
    /// `hooks.*max_in_flight` calls waiting already.
    public static func hookOverBudget(kind: String) {
        Counter(label: "relay_hook_over_budget_total", dimensions: [("class", kind)]).increment()
    }
}
