import RelayCore

/// How a family of HTTP hooks is written and read. `HTTPEventHooks` owns the transport
/// (budgets, deadlines, fail-open); a dialect says which hook an event goes to, what is POSTed
/// and what the answer means: the native JSON (hooks/README.md) or another server's (RelayZLM's).
public protocol HookDialect: Sendable {
    /// How metrics label its hooks: the hook name behind this prefix ("" native, "zlm:").
    var metricPrefix: String { get }
    /// The hook's name, its key in `RelayConfig.Hooks.endpoints`; nil: no hook for the event.
    func hookName(_ event: HookEvent) -> String?
    /// The JSON bodies to POST, one call each (a decision uses the first); none: nothing to send.
    func bodies(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue]) -> [String]
    /// What an answer means, in the native terms (`allowed`, `keep`, `record`, `stream_replace`…).
    func decision(_ event: HookEvent, stream: String, status: Int, answer: JSONValue?, reason: String?) -> HookDecision
    /// What no answer means (timeout, connection error, budget): `failOpen` is the hook's setting.
    func unanswered(_ event: HookEvent, failOpen: Bool, reason: String) -> HookDecision
}

/// The native hooks: one POST per event to its `on_*` URL; any 2xx allows.
public struct NativeHookDialect: HookDialect {
    public init() {}

    public var metricPrefix: String { "" }

    public func hookName(_ event: HookEvent) -> String? { event.rawValue }

    public func bodies(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue]) -> [String] {
        [HookBody.make(event, stream: stream, session: session, extra: extra)]
    }

    public func decision(_ event: HookEvent, stream: String, status: Int, answer: JSONValue?, reason: String?) -> HookDecision {
        if (200..<300).contains(status) {
            return HookDecision(allowed: true, status: status, reason: reason ?? "allowed", answer: answer)
        }
        let why = reason.map { "\(event.rawValue) answered \(status): \($0)" } ?? "\(event.rawValue) answered \(status)"
        return HookDecision(allowed: false, status: status, reason: why, answer: answer)
    }

    public func unanswered(_ event: HookEvent, failOpen: Bool, reason: String) -> HookDecision {
        HookDecision(allowed: failOpen, status: 0, reason: "\(event.rawValue) hook \(reason)\(failOpen ? " (fail-open)" : "")")
    }
}
