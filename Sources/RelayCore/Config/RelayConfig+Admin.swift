/// `admin` section of config.json (README lists every key).
extension RelayConfig {
    public struct Admin: Sendable, Equatable {
        /// The admin REST API and `/metrics` on a listener of their own (loopback by default).
        public var listener: Listener
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

        public init(listener: Listener, token: String, maxBodyBytes: Int, requestTimeoutMs: Int = 10_000, maxConnections: Int = 64) {
            self.listener = listener
            self.token = token
            self.maxBodyBytes = maxBodyBytes
            self.requestTimeoutMs = requestTimeoutMs
            self.maxConnections = maxConnections
        }
    }

    static func admin(_ r: inout ConfigReader) throws -> Admin {
        let admin = Admin(
            listener: Listener(enabled: try r.bool("enabled", default: true),
                               host: try r.string("host", default: "127.0.0.1"),
                               port: try r.int("port", default: 8090, in: 0...65535)),
            token: try r.string("token", default: ""),
            maxBodyBytes: try r.int("max_body_bytes", default: 64 << 10, in: 1024...(16 << 20)),
            requestTimeoutMs: try r.int("request_timeout_ms", default: 10_000, in: 100...600_000),
            maxConnections: try r.int("max_connections", default: 64, in: 1...100_000))
        if admin.token.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            throw r.error("token", "must not contain spaces or control characters")
        }
        if admin.listener.host.isEmpty { throw r.error("host", "must not be empty") }
        return admin
    }
}
