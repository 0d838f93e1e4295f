import RelayCore

/// `admin` section of config.json (README lists every key).
public struct AdminConfig: ConfigSection {
    public static let key = "admin"

    /// The admin REST API and `/metrics` on a listener of their own (loopback by default).
    public var listener: RelayConfig.Listener
    /// When set, every request needs `Authorization: Bearer <token>` (401 without it).
    public var token: String
    /// Largest request body read; larger ones are answered 413.
    public var maxBodyBytes: Int
    /// A request (head and body) must arrive within this long of connecting or of the last
    /// answer on the connection, else it is closed (slowloris, idle keep-alive).
    public var requestTimeoutMs: Int
    /// Admin connections open at once (its own count, so media clients cannot lock the
    /// operator out); `limits.max_connections_per_ip` applies too.
    public var maxConnections: Int

    public static let defaults = Self.parsedDefaults

    public init(reading r: inout ConfigReader) throws {
        listener = try r.listener(port: 8090, host: "127.0.0.1")
        token = try r.string("token", default: "")
        maxBodyBytes = try r.int("max_body_bytes", default: 64 << 10, in: 1024...(16 << 20))
        requestTimeoutMs = try r.int("request_timeout_ms", default: 10_000, in: 100...600_000)
        maxConnections = try r.int("max_connections", default: 64, in: 1...100_000)
        if token.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            throw r.error("token", "must not contain spaces or control characters")
        }
        if listener.host.isEmpty { throw r.error("host", "must not be empty") }
    }
}

extension RelayConfig {
    public var admin: AdminConfig {
        get { self[AdminConfig.self] }
        set { self[AdminConfig.self] = newValue }
    }
}
