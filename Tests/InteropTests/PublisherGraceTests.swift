import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import Testing

/// `source.publisher_grace_ms`: a publisher that drops and comes back in time keeps its players
/// (RTMP, HTTP-FLV, RTSP read by ffprobe) with monotonic timestamps; after the grace they are ended, once.
@Suite(.serialized)
struct PublisherGraceTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// Times (s) of the packets ffprobe printed as `pts_time`, in arrival order.
    static func times(_ out: String) -> [Double] {
        out.split(separator: "\n").compactMap { line in
            line.split(separator: "|").first { $0.hasPrefix("pts_time=") }.flatMap { Double($0.dropFirst(9)) }
        }
    }

    @Test func playersContinueWhenThePublisherComesBackWithinTheGrace() async throws {
        let (server, first) = try await TestServer.startPublishing("live/grace", "\"source\": {\"publisher_grace_ms\": 5000}")
        defer { first.terminate() }
        let media = try await TestMedia.shared.h264AACFLV()

        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/grace.flv",
                                                  group: Self.group, keepTimestamps: true)
        let rtmp = try await RTMPPlayer.connect(url: server.rtmpURL("live/grace"), group: Self.group, keepTimestamps: true)
        // ffprobe over RTSP (TCP) through the reconnect: its packet times must not go back.
        let probe = try ChildProcess("ffprobe", [
            "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v", "-show_entries", "packet=pts_time",
            "-of", "compact", "-read_intervals", "%+7", server.rtspURL("live/grace"),
        ])
        defer { probe.terminate() }
        _ = await flv.wait(timeout: .seconds(5)) { $0.videoFrames >= 40 }
        _ = await rtmp.wait(timeout: .seconds(5)) { $0.videoFrames >= 40 }

        first.signal(SIGKILL)  // a drop, not an unpublish
        _ = await first.wait(seconds: 5)
        try await Task.sleep(nanoseconds: 700_000_000)
        #expect(await server.log.eventually("players wait up to 5000 ms"))
        #expect(!flv.stats.closed && !rtmp.stats.closed && probe.isRunning, "players were ended during the grace")
        let before = (flv.stats.videoFrames, rtmp.stats.videoFrames)
        let headersBefore = (flv.stats.sequenceHeaders, rtmp.stats.sequenceHeaders)

        let second = try server.publish(media, stream: "live/grace")
        defer { second.terminate() }
        let flvAfter = await flv.wait(timeout: .seconds(10)) { $0.videoFrames >= before.0 + 50 }
        let rtmpAfter = await rtmp.wait(timeout: .seconds(10)) { $0.videoFrames >= before.1 + 50 }
        #expect(await server.log.eventually("publisher came back: 3 players continue"), "\(server.log.lines.suffix(20))")
        for (name, stats, frames) in [("HTTP-FLV", flvAfter, before.0), ("RTMP", rtmpAfter, before.1)] {
            #expect(!stats.closed, "\(name) player was closed")
            #expect(stats.videoFrames >= frames + 50, "\(name): \(stats.videoFrames - frames) frames after the reconnect")
            #expect(stats.error == nil, "\(name): \(stats.error ?? "")")
        }
        // New sequence headers reached the players before the new publisher's media.
        #expect(flvAfter.sequenceHeaders > headersBefore.0)
        #expect(rtmpAfter.sequenceHeaders > headersBefore.1)
        for (name, ts) in [("HTTP-FLV", flvAfter.videoTimestamps), ("RTMP", rtmpAfter.videoTimestamps)] {
            let back = zip(ts, ts.dropFirst()).first { $1 < $0 }
            #expect(back == nil, "\(name) video timestamps went back: \(String(describing: back))")
        }
        // ffprobe stays connected through the reconnect and reads its 7 s of media (25 fps).
        let probeStatus = await probe.wait(seconds: 12)
        #expect(probeStatus == 0, "ffprobe over RTSP: \(probe.stderr)")
        let pts = Self.times(probe.stdout)
        #expect(pts.count > 150, "ffprobe over RTSP read \(pts.count) packets: \(probe.stderr)")
        #expect(pts.last.map { $0 - pts[0] > 6 } == true, "RTSP media time \(pts.first ?? 0)…\(pts.last ?? 0)")
        var highest = -Double.infinity
        for t in pts {
            #expect(t > highest - 0.5, "RTSP time went back from \(highest) to \(t)")
            highest = max(highest, t)
        }
        await flv.close()
        await rtmp.close()
        await server.stop()
    }

    @Test func playersAreEndedOnceWhenTheGraceExpires() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(
            #""source": {"publisher_grace_ms": 800}, "hooks": {"on_publish_done": "\#(hooks.url)", "on_play_done": "\#(hooks.url)"}"#)
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/expire")
        defer { publisher.terminate() }
        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/expire.flv",
                                                  group: Self.group)
        _ = await flv.wait(timeout: .seconds(5)) { $0.videoFrames > 10 }

        publisher.signal(SIGKILL)
        _ = await publisher.wait(seconds: 5)
        let killed = Date()
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(!flv.stats.closed, "player ended inside the grace")
        #expect(hooks.events("on_publish_done").isEmpty, "on_publish_done before the grace ran out")
        let end = await flv.wait(timeout: .seconds(5)) { $0.closed }
        #expect(end.closed, "player not ended after the grace")
        #expect(Date().timeIntervalSince(killed) < 3)
        #expect(await hooks.wait(for: "on_publish_done").count == 1)
        #expect(await hooks.wait(for: "on_play_done").count == 1)
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(hooks.events("on_publish_done").count == 1, "on_publish_done sent more than once")
        #expect(hooks.events("on_play_done").count == 1, "on_play_done sent more than once")
        #expect(server.server.context.registry.source("live/expire") == nil)
        await server.stop()
    }

    @Test func anUnpublishEndsPlayersAtOnce() async throws {
        let server = try await TestServer.start("\"source\": {\"publisher_grace_ms\": 10000}")
        let media = try await TestMedia.shared.h264AACFLV()
        // Three seconds, then ffmpeg ends its output cleanly: FCUnpublish + deleteStream.
        let publisher = try ChildProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", media, "-t", "3",
                                                    "-c", "copy", "-f", "flv", server.rtmpURL("live/unpublish")])
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/unpublish"))
        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/unpublish.flv",
                                                  group: Self.group)
        _ = await flv.wait(timeout: .seconds(5)) { $0.videoFrames > 10 }
        let status = await publisher.wait(seconds: 10)
        #expect(status == 0, "ffmpeg: \(publisher.stderr)")
        let end = await flv.wait(timeout: .seconds(1)) { $0.closed }
        #expect(end.closed, "player not ended at once after an unpublish (grace is 10 s)")
        #expect(!server.log.contains("players wait up to"))
        await server.stop()
    }
}
