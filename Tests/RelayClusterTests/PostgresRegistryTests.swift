import Foundation
import NIOConcurrencyHelpers
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayCluster

/// The registry against a real PostgreSQL server started for each test.
@Suite(.serialized) struct PostgresRegistryTests {
    @Test func upsertLocateEndNotifies() async throws {
        try await PostgresServer.with { db in
            let origin = try PostgresFixture.registry(node: "origin", database: db, advertise: "rtmp://10.0.0.1:1935")
            let edge = try PostgresFixture.registry(node: "edge", database: db, advertise: "rtmp://10.0.0.2:1935")
            let ended = NIOLockedValueBox<[String]>([])
            edge.onStreamEnded { id in ended.withLockedValue { $0.append(id) } }
            origin.start()
            edge.start()
            #expect(await eventually { origin.isUp && edge.isUp })
            // The table exists with its columns (made at start).
            #expect(try await db.psql("SELECT count(*) FROM liverelay_streams").trimmingCharacters(in: .whitespacesAndNewlines) == "0")

            let source = PostgresFixture.source("live/cam1")
            origin.streamStarted(source)
            #expect(await eventually { await edge.locate("live/cam1") != nil })
            let found = await edge.locate("live/cam1")
            #expect(found?.node == "origin" && found?.url == "rtmp://10.0.0.1:1935")
            #expect(found?.streamURL == "rtmp://10.0.0.1:1935/live/cam1")
            #expect(await origin.locate("live/cam1") == nil, "a node never locates its own stream elsewhere")
            #expect(try await db.psql("SELECT node_id, url FROM liverelay_streams").contains("origin|rtmp://10.0.0.1:1935"))
            #expect(try await origin.rows().map(\.stream) == ["live/cam1"])

            // A pull of another node's stream is not an origin: never registered.
            origin.streamStarted(PostgresFixture.source("live/pulled", params: [ClusterModule.originParam: "x"]))

            // Let the LISTEN start before the end is notified.
            try await Task.sleep(nanoseconds: 300_000_000)
            origin.streamEnded(source)
            #expect(await eventually { ended.withLockedValue { $0 } == ["live/cam1"] })
            #expect(await edge.locate("live/cam1") == nil)
            #expect(try await db.psql("SELECT count(*) FROM liverelay_streams").hasPrefix("0"))
            await origin.stop()
            await edge.stop()
        }
    }

    @Test func expiryHeartbeatAndLostRows() async throws {
        try await PostgresServer.with { db in
            let origin = try PostgresFixture.registry(node: "origin", database: db, advertise: "rtmp://10.0.0.1:1935")
            let edge = try PostgresFixture.registry(node: "edge", database: db, advertise: "rtmp://10.0.0.2:1935")
            origin.start()
            edge.start()
            #expect(await eventually { origin.isUp && edge.isUp })
            origin.streamStarted(PostgresFixture.source("live/a"))
            #expect(await eventually { await edge.locate("live/a") != nil })

            // A dead node's row (not refreshed within expiry_ms) is not an answer.
            _ = try await db.psql("INSERT INTO liverelay_streams VALUES ('live/dead', 'gone', 'rtmp://x:1', now() - interval '5 s', now() - interval '1 s')")
            #expect(await edge.locate("live/dead") == nil)
            _ = try await db.psql("UPDATE liverelay_streams SET updated_at = now() WHERE stream_id = 'live/dead'")
            #expect(await edge.locate("live/dead")?.node == "gone")

            // The heartbeat refreshes this node's rows…
            // (the update and the check in one statement: a heartbeat may come between two)
            #expect(try await db.psql("""
                UPDATE liverelay_streams SET updated_at = now() - interval '10 s' WHERE stream_id = 'live/a'
                RETURNING updated_at > now() - interval '400 ms'
                """).hasPrefix("f"))
            #expect(await eventually { await edge.locate("live/a") != nil })
            // … re-inserts lost ones …
            _ = try await db.psql("DELETE FROM liverelay_streams WHERE stream_id = 'live/a'")
            #expect(await eventually { await edge.locate("live/a")?.node == "origin" })
            // … and deletes its rows of streams it no longer has.
            _ = try await db.psql("INSERT INTO liverelay_streams VALUES ('live/stale', 'origin', 'rtmp://x:1', now(), now())")
            #expect(try await eventually { try await db.psql("SELECT count(*) FROM liverelay_streams WHERE stream_id = 'live/stale'").hasPrefix("0") })
            await origin.stop()
            await edge.stop()
        }
    }

    @Test func databaseDownFailsFastAndRecovers() async throws {
        try await PostgresServer.with { db in
            let origin = try PostgresFixture.registry(node: "origin", database: db, advertise: "rtmp://10.0.0.1:1935")
            let edge = try PostgresFixture.registry(node: "edge", database: db, advertise: "rtmp://10.0.0.2:1935")
            origin.start()
            edge.start()
            #expect(await eventually { origin.isUp && edge.isUp })
            origin.streamStarted(PostgresFixture.source("live/a"))
            #expect(await eventually { await edge.locate("live/a") != nil })

            try await db.kill()
            #expect(await eventually { !edge.isUp && !origin.isUp })
            let asked = Date()
            #expect(await edge.locate("live/a") == nil)
            #expect(Date().timeIntervalSince(asked) < 0.05, "a lookup while the database is down answers at once")

            // A restarted database (here: emptied too) gets this node's rows back from the heartbeat.
            try await db.startServer()
            _ = try await db.psql("DROP TABLE liverelay_streams")
            #expect(await eventually(10) { edge.isUp && origin.isUp })
            #expect(await eventually(10) { await edge.locate("live/a")?.node == "origin" })
            await origin.stop()
            await edge.stop()
        }
    }

    /// Nodes starting together on an empty database all create the tables: IF NOT EXISTS does
    /// not serialize them, and the losers' errors (23505, 42P07, 42710) are no outage.
    @Test func nodesCreatingTheTablesAtOnceSeeNoOutage() async throws {
        try await PostgresServer.with { db in
            let log = LogLines()
            let nodes = try (0..<8).map {
                try PostgresFixture.registry(node: "node-\($0)", database: db, advertise: "rtmp://10.0.0.\($0):1935", logger: log.logger())
            }
            for node in nodes { node.start() }
            #expect(await eventually { nodes.allSatisfy(\.isUp) })
            #expect(await eventually { (try? await nodes[0].nodes().count) == 8 })
            for node in nodes { await node.stop() }
            #expect(!log.contains("fails ("), "\(log.lines.filter { $0.contains("fails (") })")
        }
    }

    @Test func eachNodesPlayersPerStreamAndItsLoad() async throws {
        try await PostgresServer.with { db in
            let originPlayers = NIOLockedValueBox<[String: Int]>([:])
            let edgePlayers = NIOLockedValueBox<[String: Int]>([:])
            let log = LogLines()
            let origin = try PostgresFixture.registry(node: "origin", database: db, advertise: "rtmp://10.0.0.1:1935", edge: false,
                                                      players: originPlayers, logger: log.logger())
            let edge = try PostgresFixture.registry(node: "edge", database: db, advertise: "rtmp://10.0.0.2:1935", players: edgePlayers,
                                                    logger: log.logger())
            origin.start()
            edge.start()
            origin.streamStarted(PostgresFixture.source("live/a"))
            // The origin serves the edge's pull and one viewer; the edge serves 500 viewers.
            originPlayers.withLockedValue { $0 = ["live/a": 2, "live/b": 1] }
            edgePlayers.withLockedValue { $0 = ["live/a": 500] }
            #expect(await eventually { (try? await origin.rows().first?.players) == ["origin": 2, "edge": 500] })
            let row = try #require(try await edge.rows().first)
            #expect(row.stream == "live/a" && row.node == "origin" && row.playersTotal == 502)
            let load = try await edge.nodes()
            #expect(load.map(\.node) == ["edge", "origin"])
            #expect(load.first.map { $0.edge && $0.streams == 1 && $0.players == 500 && $0.url == "rtmp://10.0.0.2:1935" } == true, "\(load)")
            #expect(load.last.map { !$0.edge && $0.streams == 2 && $0.players == 3 } == true, "\(load)")
            #expect(await eventually { origin.nodesSeen.count == 2 }, "the heartbeat keeps the load for the metrics")

            // The edge's viewers leave: its row for the stream goes.
            edgePlayers.withLockedValue { $0 = [:] }
            #expect(await eventually { (try? await origin.rows().first?.players) == ["origin": 2] })
            // A node that stops deletes its load; one that dies expires with its rows.
            await edge.stop()
            #expect(try await origin.nodes().map(\.node) == ["origin"])
            _ = try await db.psql("INSERT INTO liverelay_streams_nodes VALUES ('dead', 'rtmp://x:1', true, 1, 9, now() - interval '1 s')")
            #expect(try await origin.nodes().map(\.node) == ["origin"])
            await origin.stop()
            #expect(try await db.psql("SELECT count(*) FROM liverelay_streams_players").hasPrefix("0"))
            #expect(!log.contains("fails ("), "\(log.lines)")
        }
    }

    /// nil when a registry with `query` does not connect within `seconds`; else whether its
    /// connection is encrypted, as the server sees it. A registry that cannot connect logs its
    /// outage when a heartbeat's `deadlineMs` passes.
    func encryption(_ db: PostgresServer, _ query: String, seconds: Double = 5, deadlineMs: Int = 2000,
                    log: LogLines = LogLines()) async throws -> Bool? {
        let registry = try PostgresFixture.registry(node: "n", database: db, advertise: "rtmp://10.0.0.1:1935", query: query,
                                                    locateTimeoutMs: deadlineMs, logger: log.logger())
        registry.start()
        var ssl: Bool?
        if await eventually(seconds, { registry.isUp }), let client = registry.upClient {
            for try await row in try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").decode(Bool.self) {
                ssl = row
            }
        }
        await registry.stop()
        return ssl
    }

    @Test func tlsToTheDatabaseAsSslmodeSays() async throws {
        let unknownCA = LogLines()
        let noTLS = LogLines()
        let seen = try await PostgresServer.with(tls: true) { db in
            [
                try await encryption(db, "?sslmode=verify-full&sslrootcert=\(db.caFile)"),
                try await encryption(db, "?sslmode=verify-ca&sslrootcert=\(db.caFile)"),
                try await encryption(db, "?sslmode=require"),
                try await encryption(db, ""),  // prefer: TLS when the server offers it
                try await encryption(db, "?sslmode=disable"),
                // verify-full against the system's CAs: the test CA is not one of them, no connection.
                try await encryption(db, "?sslmode=verify-full", seconds: 1, deadlineMs: 500, log: unknownCA),
            ]
        }
        #expect(seen == [true, true, true, true, false, nil])
        // Without TLS on the server: prefer falls back to plain text, require does not connect.
        let plain = try await PostgresServer.with { db in
            [try await encryption(db, ""), try await encryption(db, "?sslmode=require", seconds: 1, deadlineMs: 500, log: noTLS)]
        }
        #expect(plain == [false, nil])
        // The outage's one line says why, not only that a query timed out.
        #expect(await eventually { unknownCA.contains("fails (connectionError: handshakeFailed") && unknownCA.contains("CERTIFICATE_VERIFY_FAILED") },
                "\(unknownCA.lines)")
        #expect(await eventually { noTLS.contains("fails (sslUnsupported)") }, "\(noTLS.lines)")
    }

    @Test func stopDeletesThisNodesRowsAndAQuotedTable() async throws {
        try await PostgresServer.with { db in
            let origin = try PostgresFixture.registry(node: "origin", database: db, advertise: "rtmp://10.0.0.1:1935", table: "Relay_Rows")
            origin.start()
            #expect(await eventually { origin.isUp })
            origin.streamStarted(PostgresFixture.source("live/a"))
            #expect(try await eventually { try await db.psql("SELECT count(*) FROM \"Relay_Rows\"").hasPrefix("1") })
            await origin.stop()
            #expect(try await db.psql("SELECT count(*) FROM \"Relay_Rows\"").hasPrefix("0"))
        }
    }
}
