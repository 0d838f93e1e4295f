import NIOPosix
import RelayBenchKit
import Testing

/// A victim stream published by ffmpeg, watched over HTTP-FLV and RTMP.
struct VictimStream {
    let publisher: ChildProcess
    let flv: HTTPFLVPlayer
    let rtmp: RTMPPlayer

    static func start(_ server: TestServer) async throws -> VictimStream {
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try server.publish(media, stream: "live/victim")
        #expect(await server.waitPlayable("live/victim"))
        let group = MultiThreadedEventLoopGroup.singleton
        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/victim.flv", group: group)
        let rtmp = try await RTMPPlayer.connect(url: server.rtmpURL("live/victim"), group: group)
        _ = await flv.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        _ = await rtmp.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        return VictimStream(publisher: publisher, flv: flv, rtmp: rtmp)
    }

    var frames: (flv: Int, rtmp: Int) { (flv.stats.videoFrames, rtmp.stats.videoFrames) }

    /// Both players still connected, error-free and receiving beyond `before`.
    func expectPlaying(since before: (flv: Int, rtmp: Int)) async {
        try? await Task.sleep(nanoseconds: 600_000_000)
        for (name, stats, then) in [("HTTP-FLV", flv.stats, before.flv), ("RTMP", rtmp.stats, before.rtmp)] {
            #expect(stats.error == nil && !stats.closed, "victim \(name) player: \(stats.error ?? "closed")")
            #expect(stats.videoFrames > then + 5, "victim \(name) frames \(then) → \(stats.videoFrames)")
        }
    }

    func stop() async {
        await flv.close()
        await rtmp.close()
        publisher.terminate()
    }
}
