import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayGB28181
import Testing

/// What a GB28181 receiver reports while it waits, admits and receives: no field guesses.
@Suite(.serialized)
struct GB28181ReceiverStateTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// A tcp-active receiver whose device does not answer yet: `ip`/`port` are the device's
    /// address (the server dials it), not this server's; no peer; `since` is when it began
    /// waiting.
    @Test func aTCPActiveReceiverWaitingShowsTheDeviceItDials() async throws {
        let server = try await TestServer.start()
        let closedPort = try Self.unusedTCPPort()
        let before = Date()
        _ = try await server.gb.open(streamID: "gb/dial", ssrc: try GBSSRC.parse("0100000041"), mode: .tcpActive,
                                     deviceAddress: "127.0.0.2:\(closedPort)")
        try await Task.sleep(nanoseconds: 300_000_000)
        let admin = AdminHTTP(port: server.adminPort)
        let reply = try await admin.get("/api/v1/gb28181/receivers/gb/dial")
        let body = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        #expect(body["mode"] as? String == "tcp-active")
        // The server announces 127.0.0.1 (gb28181.host); the device is at 127.0.0.2.
        #expect(body["ip"] as? String == "127.0.0.2" && body["port"] as? Int == closedPort, "\(body)")
        #expect(body["state"] as? String == "waiting")
        #expect(body["remote_address"] == nil, "nothing is connected: \(body)")
        let since = try #require((body["since"] as? String).flatMap(Self.date))
        #expect(since >= before.addingTimeInterval(-1) && since <= Date())
        await server.stop()
    }

    /// The announced address of a UDP receiver is this server's; once media flows the peer is
    /// the camera, and after the stream ends the receiver waits again with no peer.
    @Test func theStateFollowsTheStream() async throws {
        let server = try await TestServer.start(gb28181: #", "receivers": [{"stream": "gb/state", "ssrc": "0100000042", "mode": "udp", "port": 0}]"#)
        let port = try #require(server.gb.sharedUDPPort)
        #expect(server.gb.receiver("gb/state")?.info.state == .waiting)
        let device = try GB28181Tests.send(try await GB28181LossTests.media(),
                                           ["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000042", "--duration", "2"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/state"), "device: \(device.stderr)")
        let live = try #require(server.gb.receiver("gb/state")).info
        #expect(live.state == .receiving && live.remoteAddress?.hasPrefix("127.0.0.1:") == true)
        #expect(live.counters.videoFrames > 0)
        device.terminate()
        // A static receiver goes back to waiting when its source ends.
        await server.server.context.registry.source("gb/state")?.close(reason: "test: camera gone")
        #expect(await GB28181Tests.wait(10) { server.gb.receiver("gb/state")?.info.state == .waiting })
        let waiting = try #require(server.gb.receiver("gb/state")).info
        #expect(waiting.remoteAddress == nil, "no peer while waiting: \(waiting)")
        #expect(waiting.counters.videoFrames >= live.counters.videoFrames, "counts add up over sessions: \(waiting)")
        await server.stop()
    }

    /// An on_publish hook that takes 0.4 s (well under the clip's 1 s GOP): the receiver shows
    /// `admitting` meanwhile, and the packets that arrive while it decides are kept, so the
    /// player still gets the stream from its first key frame (they used to be dropped: the
    /// first GOP was lost).
    @Test func aSlowOnPublishHookCostsNoFrames() async throws {
        let hooks = try await HookServer.start(["--delay-ms", "400"])
        defer { hooks.process.terminate() }
        let server = try await TestServer.start(#""hooks": {"on_publish": "\#(hooks.url)"}"#)
        let port = try #require(server.gb.sharedUDPPort)
        _ = try await server.gb.open(streamID: "gb/slowhook", ssrc: try GBSSRC.parse("0100000043"), mode: .udp)
        let player = try await RTMPPlayer.connect(url: server.rtmpURL("gb/slowhook"), group: Self.group)
        let device = try GB28181Tests.send(try await GB28181LossTests.media(),
                                           ["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000043", "--duration", "4"])
        defer { device.terminate() }
        #expect(await GB28181Tests.wait(3) { server.gb.receiver("gb/slowhook")?.info.state == .admitting })
        let deadline = Date().addingTimeInterval(20)
        while device.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 100_000_000) }
        let json = try #require(device.stdout.split(separator: "\n").last { $0.hasPrefix("{") }, "device: \(device.stderr)")
        let sent = try #require((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["video_frames"] as? Int)
        _ = await player.wait(timeout: .seconds(3)) { $0.videoFrames >= sent }
        let played = player.stats
        await player.close()
        #expect(played.firstVideoIsKey == true && played.videoFrames == sent, "played \(played.videoFrames) of \(sent)")
        await server.stop()
    }

    static func unusedTCPPort() throws -> Int {
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress?.port ?? 0
        try channel.close().wait()
        return port
    }

    static func date(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}
