/// `limits` section of config.json (README lists every key): bounds on what peers may open.
extension RelayConfig {
    public struct Limits: Sendable, Equatable {
        /// TCP connections open at once over every media listener (RTMP, HTTP-FLV, RTSP,
        /// JT/T 1078, GB28181 TCP); further ones are closed at accept. 0 = no limit.
        public var maxConnections: Int
        /// Likewise per client IP address. 0 = no limit.
        public var maxConnectionsPerIP: Int
        /// Live streams (sources) at once; further publishers are refused. 0 = no limit.
        public var maxStreams: Int
        /// Bytes all sources may hold for players (GOP caches, cached segments; counted as
        /// allocated, `MemoryBudget`); past it new publishers and players are refused. 0 = no limit.
        public var maxMemoryBytes: Int
        /// A TCP connection on any listener that is not playing or publishing this long after
        /// connecting (or after its play/publish ended) is closed: handshake, first request,
        /// headers and body all count; the server's own waits (hooks, a stream to appear) do not.
        public var establishTimeoutMs: Int
        /// A connection that is not playing, with nothing read or written for this long, is
        /// closed (a silent publisher, a connection that never says anything). 0 = off.
        public var idleTimeoutMs: Int

        public init(maxConnections: Int, maxConnectionsPerIP: Int, maxStreams: Int, maxMemoryBytes: Int = 2 << 30,
                    establishTimeoutMs: Int = 15_000, idleTimeoutMs: Int = 60_000) {
            self.maxConnections = maxConnections
            self.maxConnectionsPerIP = maxConnectionsPerIP
            self.maxStreams = maxStreams
            self.maxMemoryBytes = maxMemoryBytes
            self.establishTimeoutMs = establishTimeoutMs
            self.idleTimeoutMs = idleTimeoutMs
        }
    }

    static func limits(_ r: inout ConfigReader) throws -> Limits {
        Limits(maxConnections: try r.int("max_connections", default: 10_000, in: 0...1_000_000),
               maxConnectionsPerIP: try r.int("max_connections_per_ip", default: 1000, in: 0...1_000_000),
               maxStreams: try r.int("max_streams", default: 1000, in: 0...1_000_000),
               maxMemoryBytes: try r.int("max_memory_bytes", default: 2 << 30, in: 0...(1 << 40)),
               establishTimeoutMs: try r.int("establish_timeout_ms", default: 15_000, in: 100...600_000),
               idleTimeoutMs: try idleTimeout(&r))
    }

    private static func idleTimeout(_ r: inout ConfigReader) throws -> Int {
        let ms = try r.int("idle_timeout_ms", default: 60_000, in: 0...86_400_000)
        if ms != 0 && ms < 100 { throw r.error("idle_timeout_ms", "must be 0 (off) or at least 100") }
        return ms
    }
}
