import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import Testing

/// A player that stops reading is closed on its own; the others keep their frame rate.
@Suite(.serialized)
struct SlowPlayerTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// An HTTP-FLV player that asked for `path` and then reads nothing, with a tiny receive buffer.
    static func stalledPlayer(_ server: TestServer, path: String) async throws -> any Channel {
        let stalled = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .channelOption(.autoRead, value: false)
            .connect(host: "127.0.0.1", port: server.httpPort).get()
        try await stalled.writeAndFlush(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"))
        return stalled
    }

    @Test func aStalledPlayerIsDroppedAndOthersAreNotSlowed() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/slow",
            "\"player\": {\"write_timeout_ms\": 1500, \"max_pending_bytes\": 262144, \"send_buffer_bytes\": 65536}")
        defer { publisher.terminate() }

        var healthy: [HTTPFLVPlayer] = []
        for _ in 0..<10 {
            healthy.append(try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort,
                                                           path: "/live/slow.flv", group: Self.group))
        }
        let stalled = try await Self.stalledPlayer(server, path: "/live/slow.flv")
        defer { stalled.close(promise: nil) }

        // Frames delivered to the healthy players in the first second, as the baseline.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let baseline = healthy.map(\.stats.videoFrames)

        let deadline = Date().addingTimeInterval(20)
        while !server.log.contains("closing slow player"), Date() < deadline {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(await server.log.eventually("closing slow player"), "the stalled player was never dropped")
        try await Task.sleep(nanoseconds: 1_000_000_000)
        for (i, player) in healthy.enumerated() {
            let s = player.stats
            #expect(s.error == nil && !s.closed, "healthy player \(i): \(s.error ?? "closed")")
            #expect(s.videoFrames > baseline[i] + 25, "healthy player \(i) kept up: \(baseline[i]) → \(s.videoFrames)")
            // 25 fps with no merging: a gap of half a second would mean the stalled player slowed others.
            #expect(s.maxVideoGap < .milliseconds(500), "healthy player \(i) max gap \(s.maxVideoGap.nanoseconds / 1_000_000) ms")
        }
        for p in healthy { await p.close() }
        await server.stop()
    }

    @Test func skipPolicyKeepsAStalledPlayerButDropsItsSegments() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/skip",
            "\"player\": {\"write_timeout_ms\": 60000, \"slow_policy\": \"skip\", \"send_buffer_bytes\": 65536}")
        defer { publisher.terminate() }
        let stalled = try await Self.stalledPlayer(server, path: "/live/skip.flv")
        defer { stalled.close(promise: nil) }

        // Its pending bytes stay bounded by the write-buffer high-water mark while segments are skipped.
        var dropped: UInt64 = 0
        var pending = 0
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            let players = await server.server.context.registry.source("live/skip")?.playerSnapshots() ?? []
            dropped = players.first?.segmentsDropped ?? 0
            pending = players.first?.pendingBytes ?? 0
            if dropped > 10 { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        #expect(dropped > 10, "segments skipped: \(dropped)")
        #expect(pending <= 4 << 20, "pending bytes stay bounded: \(pending)")
        #expect(!server.log.contains("closing slow player"))
        await server.stop()
    }
}
