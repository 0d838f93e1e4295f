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

        public init(maxConnections: Int, maxConnectionsPerIP: Int, maxStreams: Int, maxMemoryBytes: Int = 2 << 30) {
            self.maxConnections = maxConnections
            self.maxConnectionsPerIP = maxConnectionsPerIP
            self.maxStreams = maxStreams
            self.maxMemoryBytes = maxMemoryBytes
        }
    }

    static func limits(_ r: inout ConfigReader) throws -> Limits {
        Limits(maxConnections: try r.int("max_connections", default: 10_000, in: 0...1_000_000),
               maxConnectionsPerIP: try r.int("max_connections_per_ip", default: 1000, in: 0...1_000_000),
               maxStreams: try r.int("max_streams", default: 1000, in: 0...1_000_000),
               maxMemoryBytes: try r.int("max_memory_bytes", default: 2 << 30, in: 0...(1 << 40)))
    }
}
