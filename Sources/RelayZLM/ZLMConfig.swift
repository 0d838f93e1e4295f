import RelayCore

/// `zlm` section of config.json: the ZLMediaKit-compatible control facade (`/index/api/*`) and
/// its webhooks, for GB28181 platforms that drive a media node in that dialect (README "Use with
/// a GB28181 platform"). Off by default; the native `/api/v1` is the primary API.
public struct ZLMConfig: ConfigSection {
    public static let key = "zlm"

    /// The dialect's hooks this server sends (the keys of `hooks`, `hook.<name>` in
    /// getServerConfig/setServerConfig).
    public static let hookNames = [
        "on_server_started", "on_server_keepalive", "on_stream_changed", "on_stream_none_reader", "on_stream_not_found",
        "on_publish", "on_play", "on_rtp_server_timeout", "on_send_rtp_stopped", "on_record_flv",
    ]

    public var enabled: Bool
    /// Every call must carry it as `secret` (the dialect's `api.secret`).
    public var secret: String
    /// Calls from this machine (127.0.0.0/8, ::1) need no secret, as the dialect allows.
    public var loopbackWithoutSecret: Bool
    /// `general.mediaServerId`: the platform's id of this node; every hook body carries it.
    public var mediaServerID: String
    /// The app of streams opened with openRtpServer (`rtp/STREAM_ID`).
    public var rtpApp: String
    /// `hook.enable`: the dialect's hooks are sent at all.
    public var hookEnable: Bool
    /// `hook.alive_interval`: seconds between on_server_keepalive calls.
    public var aliveIntervalSeconds: Int
    /// `hook.timeoutSec` in ms: how long a dialect hook may take (budgets and fail-open are the
    /// `hooks` section's).
    public var hookTimeoutMs: Int
    /// Hook URLs by the dialect's name ("on_publish"); platforms usually set them at run time
    /// with setServerConfig.
    public var hooks: [String: String]

    public static let defaults = Self.parsedDefaults

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: false)
        secret = try r.string("secret", default: "")
        loopbackWithoutSecret = try r.bool("loopback_without_secret", default: false)
        mediaServerID = try r.string("media_server_id", default: "liverelay")
        rtpApp = try r.string("rtp_app", default: "rtp")
        hookEnable = try r.bool("hook_enable", default: true)
        aliveIntervalSeconds = try r.int("alive_interval", default: 10, in: 1...3600)
        hookTimeoutMs = try r.int("hook_timeout_ms", default: 10_000, in: 50...120_000)
        hooks = [:]
        if enabled && secret.isEmpty && !loopbackWithoutSecret {
            throw r.error("secret", "is required when zlm.enabled (the platform's media secret), unless loopback_without_secret")
        }
        guard isValidStreamID(rtpApp), !rtpApp.contains("/") else {
            throw r.error("rtp_app", "'\(rtpApp)' is not an app name (letters, digits, -_.~)")
        }
        guard !mediaServerID.isEmpty else { throw r.error("media_server_id", "must not be empty") }
        switch r.value("hooks") {
        case nil, .null?:
            break
        case .object(let object)?:
            for (name, value) in object {
                guard Self.hookNames.contains(name) else {
                    throw r.error("hooks", "unknown hook '\(name)' (one of \(Self.hookNames.joined(separator: ", ")))")
                }
                guard case .string(let url) = value else {
                    throw r.error("hooks", "'\(name)' must be a URL string, got \(value.typeDescription)")
                }
                if !url.isEmpty { hooks[name] = url }
            }
        case let other?:
            throw r.error("hooks", "expected an object {\"on_publish\": URL, …}, got \(other.typeDescription)")
        }
    }
}

extension RelayConfig {
    public var zlm: ZLMConfig {
        get { self[ZLMConfig.self] }
        set { self[ZLMConfig.self] = newValue }
    }
}
