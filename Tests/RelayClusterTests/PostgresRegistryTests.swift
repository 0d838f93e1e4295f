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

    @Test func eachNodesPlayersPerStreamAndItsLoad() async throws {
        try await PostgresServer.with { db in
            let originPlayers = NIOLockedValueBox<[String: Int]>([:])
            let edgePlayers = NIOLockedValueBox<[String: Int]>([:])
            let origin = try PostgresFixture.registry(node: "origin", database: db, advertise: "rtmp://10.0.0.1:1935", edge: false,
                                                      players: originPlayers)
            let edge = try PostgresFixture.registry(node: "edge", database: db, advertise: "rtmp://10.0.0.2:1935", players: edgePlayers)
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
        }
    }

    @Test func tlsToTheDatabaseAsSslmodeSays() async throws {
        try await PostgresServer.with(tls: true) { db in
            /// Whether the registry's own connection is encrypted, as the server sees it.
            func encrypted(_ registry: PostgresRegistry) async throws -> Bool? {
                let client = try #require(registry.upClient)
                for try await ssl in try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").decode(Bool.self) {
                    return ssl
                }
                return nil
            }
            let cases: [(query: String, tls: Bool)] = [
                ("?sslmode=verify-full&sslrootcert=\(db.caFile)", true),
                ("?sslmode=verify-ca&sslrootcert=\(db.caFile)", true),
                ("?sslmode=require", true),
                ("", true),  // prefer: TLS when the server offers it
                ("?sslmode=disable", false),
            ]
            for (query, tls) in cases {
                let registry = try PostgresFixture.registry(node: "n", database: db, advertise: "rtmp://10.0.0.1:1935", query: query)
                registry.start()
                #expect(await eventually { registry.isUp }, "\(query)")
                #expect(try await encrypted(registry) == tls, "\(query)")
                await registry.stop()
            }
            // verify-full against the system's CAs: the test CA is not one of them, no connection.
            let untrusted = try PostgresFixture.registry(node: "n", database: db, advertise: "rtmp://10.0.0.1:1935", query: "?sslmode=verify-full")
            untrusted.start()
            try await Task.sleep(nanoseconds: 1_000_000_000)
            #expect(!untrusted.isUp, "a certificate from an unknown CA was accepted")
            await untrusted.stop()
        }
        // Without TLS on the server: prefer falls back to plain text, require does not connect.
        try await PostgresServer.with { db in
            let prefer = try PostgresFixture.registry(node: "n", database: db, advertise: "rtmp://10.0.0.1:1935")
            prefer.start()
            #expect(await eventually { prefer.isUp })
            await prefer.stop()
            let require = try PostgresFixture.registry(node: "n", database: db, advertise: "rtmp://10.0.0.1:1935", query: "?sslmode=require")
            require.start()
            try await Task.sleep(nanoseconds: 1_000_000_000)
            #expect(!require.isUp, "sslmode=require connected without TLS")
            await require.stop()
        }
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
