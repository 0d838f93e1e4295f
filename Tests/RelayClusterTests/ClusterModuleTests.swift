import Foundation
import NIOPosix
@testable import RelayCore
import RelayTestSupport
import Testing
@testable import RelayCluster

@Suite(.serialized) struct ClusterModuleTests {
    func module(_ cluster: ClusterConfig, pulls: RecordingPulls = RecordingPulls()) -> (ClusterModule, RelayContext) {
        var config = RelayConfig.default
        config.cluster = cluster
        let context = RelayContext(config: config, muxers: [], logger: PostgresFixture.logger)
        return (ClusterModule(context: context, pulls: pulls, group: MultiThreadedEventLoopGroup.singleton, rtmpPort: { 19350 }), context)
    }

    @Test func offItIsASingleServer() async throws {
        let (module, context) = module(.defaults)
        try await module.start()
        #expect(module.serverConfig["cluster"] == .bool(false))
        #expect(module.stats.isEmpty && module.gauges.isEmpty)
        #expect(context.streams.hasGates == false)
        let list = try #require(module.adminEndpoints.first)
        #expect(list.path == "/api/v1/cluster/streams")
        await #expect(throws: AdminFailure.self) {
            _ = try await list.handle(AdminRequest(streamID: .failure(.notFound("-")), logger: PostgresFixture.logger, body: { nil }))
        }
        await module.stop()
    }

    @Test func anOriginRegistersWhatIsPublishedThroughTheStreamRegistry() async throws {
        try await PostgresServer.with { db in
            let (module, context) = module(try PostgresFixture.config(node: "origin", database: db))
            try await module.start()
            #expect(module.advertiseURL == "rtmp://127.0.0.1:19350")
            #expect(context.streams.hasGates)
            let source = Source(id: "live/a", eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
                                publisher: SessionInfo(sessionID: "1", protocolName: "rtmp", remoteAddress: "127.0.0.1:1"), context: context)
            try context.registry.register(source)
            #expect(await eventually { (try? await db.psql("SELECT node_id || ' ' || url FROM liverelay_streams")) == "origin rtmp://127.0.0.1:19350\n" })
            let list = try #require(module.adminEndpoints.first)
            #expect(await eventually {
                let reply = try? await list.handle(AdminRequest(streamID: .failure(.notFound("-")), logger: PostgresFixture.logger, body: { nil }))
                let rows = reply?.body as? [ClusterStream] ?? []
                return rows.map(\.stream) == ["live/a"] && rows.first?.node == "origin"
            })
            // The node's load, from its heartbeat: the stream, no players yet.
            let nodes = try #require(module.adminEndpoints.last)
            #expect(nodes.path == "/api/v1/cluster/nodes")
            #expect(await eventually {
                let reply = try? await nodes.handle(AdminRequest(streamID: .failure(.notFound("-")), logger: PostgresFixture.logger, body: { nil }))
                let seen = reply?.body as? [ClusterNodeLoad] ?? []
                return seen.map(\.node) == ["origin"] && seen.first?.url == "rtmp://127.0.0.1:19350" && seen.first?.edge == true
                    && seen.first?.streams == 1 && seen.first?.players == 0
            })
            let again = try await list.handle(AdminRequest(streamID: .failure(.notFound("-")), logger: PostgresFixture.logger, body: { nil }))
            #expect((again.body as? [ClusterStream])?.first?.players == ["origin": 0])
            #expect(module.gauges.contains { $0.name == "relay_cluster_node_players" && $0.labels.first?.1 == "origin" && $0.value == 0 })
            guard case .object(let stats)? = module.stats["cluster"] else { Issue.record("no cluster stats"); return }
            #expect(stats["registry_up"] == .bool(true) && stats["streams_registered"] == .number(1))
            context.registry.unregister(source)
            #expect(try await eventually { try await db.psql("SELECT count(*) FROM liverelay_streams") == "0\n" })
            await module.stop()
            #expect(try await db.psql("SELECT count(*) FROM liverelay_streams_nodes") == "0\n", "a stopped node's load is deleted")
        }
    }
}
