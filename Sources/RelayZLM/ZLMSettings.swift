import NIOConcurrencyHelpers
import RelayCore

/// The facade's run-time settings: they start from config (`zlm`) and a platform changes them
/// with setServerConfig (hook URLs, `hook.enable`, `hook.alive_interval`, `hook.timeoutSec`).
/// The dialect's hook sender reads them per hook, and re-arms its keepalive on `onHooksChanged`.
public final class ZLMSettings: Sendable {
    private struct State {
        var hookEnabled: Bool
        var aliveIntervalSeconds: Double
        var hookTimeoutMs: Int
        /// Every `hook.on_*` value set, by hook name, empty ones included (getServerConfig echoes them).
        var hooks: [String: String]
        var listeners: [@Sendable () -> Void] = []
    }

    public let mediaServerID: String
    public let secret: String
    private let state: NIOLockedValueBox<State>

    /// Hook names getServerConfig always lists (empty when unset): ours, and the ones ZLMediaKit's
    /// config.ini has that a platform blanks with setServerConfig.
    static let listedHooks = ZLMConfig.hookNames + [
        "on_flow_report", "on_http_access", "on_record_mp4", "on_record_ts", "on_rtsp_auth", "on_rtsp_realm",
        "on_shell_login", "on_server_exited",
    ]

    public init(config: ZLMConfig) {
        mediaServerID = config.mediaServerID
        secret = config.secret
        state = NIOLockedValueBox(State(hookEnabled: config.hookEnable, aliveIntervalSeconds: Double(config.aliveIntervalSeconds),
                                        hookTimeoutMs: config.hookTimeoutMs, hooks: config.hooks))
    }

    public var hookEnabled: Bool { state.withLockedValue { $0.hookEnabled } }
    public var aliveIntervalSeconds: Double { state.withLockedValue { $0.aliveIntervalSeconds } }
    public var hookTimeoutMs: Int { state.withLockedValue { $0.hookTimeoutMs } }

    /// Hook URLs by the dialect's hook name ("on_publish"); only the non-empty ones.
    public var hookURLs: [String: String] { state.withLockedValue { $0.hooks.filter { !$0.value.isEmpty } } }

    /// Every hook value set, empty ones included.
    var allHooks: [String: String] { state.withLockedValue { $0.hooks } }

    /// Called (after the change) whenever setServerConfig changed a hook.* key or alive_interval.
    public func onHooksChanged(_ body: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.listeners.append(body) }
    }

    // MARK: setServerConfig

    /// A checked setServerConfig key this class applies.
    enum Change: Sendable {
        case hookEnable(Bool)
        case aliveInterval(Double)
        case hookTimeoutMs(Int)
        case hookURL(name: String, url: String)
    }

    /// Reads one `section.key` of setServerConfig: nil when the key is not one of these (the
    /// caller ignores it and does not count it, as ZLMediaKit skips keys it does not know);
    /// throws for one of these whose value is unusable. Changes nothing.
    static func change(key: String, value: String) throws(ZLMFailure) -> Change? {
        let lower = key.lowercased()
        guard lower.hasPrefix("hook.") else { return nil }
        let name = String(lower.dropFirst("hook.".count))
        switch name {
        case "enable":
            guard let on = flag(value) else { throw ZLMFailure(.invalidArgs, "'hook.enable' must be 0 or 1, got '\(printableStreamID(value))'") }
            return .hookEnable(on)
        case "alive_interval":
            guard let seconds = Double(value), seconds.isFinite, seconds >= 1, seconds <= 3600 else {
                throw ZLMFailure(.invalidArgs, "'hook.alive_interval' must be seconds 1...3600, got '\(printableStreamID(value))'")
            }
            return .aliveInterval(seconds)
        case "timeoutsec":
            guard let seconds = Double(value), seconds.isFinite, seconds >= 0.05, seconds <= 120 else {
                throw ZLMFailure(.invalidArgs, "'hook.timeoutSec' must be seconds 0.05...120, got '\(printableStreamID(value))'")
            }
            return .hookTimeoutMs(Int((seconds * 1000).rounded()))
        default:
            guard name.hasPrefix("on_"), name.count <= 64,
                  name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }) else { return nil }
            guard value.isEmpty || value.hasPrefix("http://") || value.hasPrefix("https://"), value.utf8.count <= 2048 else {
                throw ZLMFailure(.invalidArgs, "'\(printableStreamID(key))' must be an http(s) URL or empty, got '\(printableStreamID(value))'")
            }
            return .hookURL(name: name, url: value)
        }
    }

    /// Applies a checked change; true when it differs from the value before.
    func apply(_ change: Change) -> Bool {
        state.withLockedValue { s in
            switch change {
            case .hookEnable(let on):
                defer { s.hookEnabled = on }
                return s.hookEnabled != on
            case .aliveInterval(let seconds):
                defer { s.aliveIntervalSeconds = seconds }
                return s.aliveIntervalSeconds != seconds
            case .hookTimeoutMs(let ms):
                defer { s.hookTimeoutMs = ms }
                return s.hookTimeoutMs != ms
            case .hookURL(let name, let url):
                defer { s.hooks[name] = url }
                return (s.hooks[name] ?? "") != url
            }
        }
    }

    /// Tells the hook sender; called once per setServerConfig that changed a hook key.
    func hooksChanged() {
        let listeners = state.withLockedValue { $0.listeners }
        for body in listeners { body() }
    }

    static func flag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: return nil
        }
    }

    /// `hook.alive_interval` as getServerConfig writes it ("10.0", like config.ini).
    var aliveIntervalText: String { String(aliveIntervalSeconds) }

    /// `hook.timeoutSec`: whole seconds when whole ("10"), else with a fraction.
    var hookTimeoutText: String {
        let ms = hookTimeoutMs
        return ms % 1000 == 0 ? String(ms / 1000) : String(Double(ms) / 1000)
    }
}
