import Foundation
import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOPosix
import RelayCore
import RelayTestSupport
@testable import RelayCluster

/// A registry node on the test's PostgreSQL server (RelayTestSupport's `PostgresServer`).
enum PostgresFixture {
    static let logger = Logger(label: "cluster-test")

    /// `query`: appended to the server's URL (`?sslmode=…`). `locateTimeoutMs`: the default's 2000
    /// (under TSan, queries past a tighter deadline marked the database down mid-test).
    static func config(node: String, database: PostgresServer, table: String = "liverelay_streams",
                       heartbeatMs: Int = 100, expiryMs: Int = 400, edge: Bool = true, query: String = "",
                       locateTimeoutMs: Int = 2000) throws -> ClusterConfig {
        try ClusterConfig.parse([
            "enabled": .bool(true), "node_id": .string(node), "postgres_url": .string(database.url + query), "edge": .bool(edge),
            "postgres_table": .string(table), "heartbeat_ms": .number(Double(heartbeatMs)),
            "expiry_ms": .number(Double(expiryMs)), "locate_timeout_ms": .number(Double(locateTimeoutMs)),
        ])
    }

    /// `players`: the node's players by stream, as its heartbeat reads them.
    static func registry(node: String, database: PostgresServer, advertise: String, table: String = "liverelay_streams",
                         heartbeatMs: Int = 100, expiryMs: Int = 400, edge: Bool = true, query: String = "",
                         locateTimeoutMs: Int = 2000, players: NIOLockedValueBox<[String: Int]> = NIOLockedValueBox([:]),
                         logger: Logger = logger) throws -> PostgresRegistry {
        let config = try config(node: node, database: database, table: table, heartbeatMs: heartbeatMs, expiryMs: expiryMs,
                                edge: edge, query: query, locateTimeoutMs: locateTimeoutMs)
        return try PostgresRegistry(config: config, database: try PostgresURL(config.postgresURL), advertiseURL: { advertise },
                                playerCounts: { players.withLockedValue { $0 } },
                                group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    /// A Source as a publisher session makes it (never registered: the observer is called by hand).
    static func source(_ id: String, params: [String: String] = [:]) -> Source {
        let context = RelayContext(config: .default, muxers: [], logger: logger)
        return Source(id: id, eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
                      publisher: SessionInfo(sessionID: "1", protocolName: "rtmp", remoteAddress: "127.0.0.1:1", params: params),
                      context: context)
    }
}
