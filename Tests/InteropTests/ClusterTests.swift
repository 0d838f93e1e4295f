import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayTestSupport
import Testing

/// Origin/edge clusters with real `relay` processes on loopback, PostgreSQL started for the test
/// (or the on_locate hook), ffmpeg publishing and players on the edges.
@Suite(.serialized)
struct ClusterTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    static func registry(_ db: PostgresServer) -> String {
        #""registry": "postgres", "postgres_url": "\#(db.url)", "heartbeat_ms": 200, "expiry_ms": 1000"#
    }

    static func publish(to node: ClusterNode, _ stream: String) async throws -> ChildProcess {
        let media = try await TestMedia.shared.h264AACFLV()
        return try ChildProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", media,
                                           "-c", "copy", "-f", "flv", "rtmp://127.0.0.1:\(node.rtmp)/\(stream)"])
    }

    /// An HTTP-FLV player of `stream` on `node` that got video, asking again until `seconds` pass.
    static func play(_ node: ClusterNode, _ stream: String, seconds: Double = 10) async throws -> HTTPFLVPlayer? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let p = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: node.http, path: "/\(stream).flv", group: group)
            if await p.wait(timeout: .seconds(6), until: { $0.videoFrames > 0 || $0.closed }).videoFrames > 0 { return p }
            await p.close()
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return nil
    }

    @Test func oneOriginTwoEdgesThroughPostgreSQL() async throws {
        try await PostgresServer.with { db in
            let origin = try await ClusterNode.start("origin", cluster: Self.registry(db) + #", "edge": false"#)
            let edge1 = try await ClusterNode.start("edge-1", cluster: Self.registry(db))
            let edge2 = try await ClusterNode.start("edge-2", cluster: Self.registry(db))
            var publisher = try await Self.publish(to: origin, "live/cam")
            defer {
                publisher.terminate()
                for node in [origin, edge1, edge2] { node.terminate() }
            }
            let stream = "live/cam"
            // Two players on each edge (RTMP and HTTP-FLV), media through one pull per edge.
            let flv1 = try #require(await Self.play(edge1, stream), "edge-1: \(edge1.process.stderr.suffix(3000))")
            let flv2 = try #require(await Self.play(edge2, stream), "edge-2: \(edge2.process.stderr.suffix(3000))")
            let rtmp1 = try await RTMPPlayer.connect(url: "rtmp://127.0.0.1:\(edge1.rtmp)/\(stream)", group: Self.group)
            let rtmp2 = try await RTMPPlayer.connect(url: "rtmp://127.0.0.1:\(edge2.rtmp)/\(stream)", group: Self.group)
            for player in [rtmp1, rtmp2] {
                #expect(await player.wait(timeout: .seconds(5)) { $0.videoFrames > 30 }.videoFrames > 30)
            }
            #expect(try await origin.players(stream).count == 2, "the origin serves one pull per edge")
            for edge in [edge1, edge2] {
                let pulls = try await edge.pulls()
                #expect(pulls.count == 1 && pulls.first?["origin"] == .string("origin") && pulls.first?["state"] == .string("playing"),
                        "\(edge.name): \(pulls)")
            }
            let rows = try await origin.api.get("/api/v1/cluster/streams").text
            #expect(rows.contains(#""stream":"live/cam""#) && rows.contains(#""node":"origin""#), "\(rows)")
            // Per-node player counts, from any node: two viewers on each edge, the edges' pulls on the origin.
            let perNode: JSONValue = .object(["origin": .number(2), "edge-1": .number(2), "edge-2": .number(2)])
            let counted = await eventually(5) {
                guard case .array(let list)? = try? await edge1.api.get("/api/v1/cluster/streams").json else { return false }
                return list.first?["players"] == perNode && list.first?["players_total"] == .number(6)
            }
            let seen = (try? await edge1.api.get("/api/v1/cluster/streams").text) ?? ""
            #expect(counted, "\(seen)")
            let nodes = try await edge2.api.get("/api/v1/cluster/nodes").text
            #expect(nodes.contains(#""node":"edge-1""#) && nodes.contains(#""edge":false"#) && nodes.contains(#""players":2"#), "\(nodes)")
            let metrics = try await edge2.api.get("/metrics").text
            #expect(metrics.contains(#"relay_cluster_node_players{node="edge-1"} 2.0"#), "\(metrics.split(separator: "\n").filter { $0.contains("cluster") })")

            // The publisher goes: every edge player reaches the end of its stream, the edges' pulls go.
            publisher.terminate()
            for player in [flv1, flv2, rtmp1, rtmp2] as [any BenchPlayer] {
                #expect(await player.wait(timeout: .seconds(8)) { $0.closed }.closed, "a player on an edge did not end")
            }
            for edge in [edge1, edge2] {
                #expect(await eventually(8) { (try? await edge.pulls().isEmpty) == true }, "\(edge.name) kept its pull")
            }

            // It comes back: players asking again get media (within the edges' reconnect backoff).
            publisher = try await Self.publish(to: origin, stream)
            let again1 = try #require(await Self.play(edge1, stream, seconds: 10))
            let again2 = try #require(await Self.play(edge2, stream, seconds: 10))

            // An edge dies: the other edge's players go on.
            edge1.terminate()
            let before = await again2.wait(timeout: .milliseconds(10)) { _ in false }.videoFrames
            let after = await again2.wait(timeout: .seconds(3)) { $0.videoFrames > before + 50 || $0.closed }
            #expect(after.videoFrames > before + 50 && !after.closed, "edge-2's player stalled after edge-1 died")
            #expect(await eventually(5) { (try? await origin.players(stream).count) == 1 })
            for player in [again1, again2, flv1, flv2, rtmp1, rtmp2] as [any BenchPlayer] { await player.close() }
        }
    }

    @Test func anEdgeFindsTheOriginThroughTheLocateHook() async throws {
        let origin = try await ClusterNode.start("origin", cluster: #""registry": "hook", "locate_hook": "http://127.0.0.1:1/none", "edge": false"#)
        let hook = try await LocateResponder(origin: "rtmp://127.0.0.1:\(origin.rtmp)")
        let edge = try await ClusterNode.start("edge", cluster: #""registry": "hook", "locate_hook": "\#(hook.url)", "locate_timeout_ms": 1000"#)
        let publisher = try await Self.publish(to: origin, "live/hooked")
        defer {
            publisher.terminate()
            origin.terminate()
            edge.terminate()
            hook.stop()
        }
        let player = try #require(await Self.play(edge, "live/hooked"), "edge: \(edge.process.stderr.suffix(3000))")
        #expect(try await origin.players("live/hooked").count == 1)
        #expect(hook.asked.contains(#"{"node": "edge", "stream": "live/hooked"}"#), "\(hook.asked)")
        // A stream the hook does not know: the player waits play_wait_ms and is told it is not there.
        let missing = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: edge.http, path: "/live/nothing.flv", group: Self.group)
        let seen = await missing.wait(timeout: .seconds(8)) { $0.closed }
        #expect(seen.videoFrames == 0 && seen.closed)
        #expect(try await edge.pulls().count == 1)
        await player.close()
        await missing.close()
    }

    @Test func aSecondPublishOnAnotherNodeIsRefusedNamingTheFirst() async throws {
        try await PostgresServer.with { db in
            let a = try await ClusterNode.start("node-a", cluster: Self.registry(db))
            let b = try await ClusterNode.start("node-b", cluster: Self.registry(db))
            let first = try await Self.publish(to: a, "live/one")
            defer {
                first.terminate()
                a.terminate()
                b.terminate()
            }
            #expect(try await eventually(10) { try await db.psql("SELECT node_id FROM liverelay_streams WHERE stream_id = 'live/one'").hasPrefix("node-a") })
            let media = try await TestMedia.shared.h264AACFLV()
            let second = try await ChildProcess.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", media, "-t", "3",
                                                               "-c", "copy", "-f", "flv", "rtmp://127.0.0.1:\(b.rtmp)/live/one"], timeout: 20)
            #expect(second.status != 0, "the second publish was accepted")
            #expect(await eventually(5) { b.process.stderr.contains("already being published (by node node-a (rtmp://127.0.0.1:\(a.rtmp)))") },
                    "\(b.process.stderr.suffix(2000))")
            #expect(try await db.psql("SELECT node_id FROM liverelay_streams WHERE stream_id = 'live/one'").hasPrefix("node-a"))
        }
    }
}
