import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import Testing

/// Real ffmpeg publishes over RTMP; real ffprobe/ffmpeg and our HTTP-FLV player pull.
@Suite(.serialized)
struct PlayTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    @Test func ffprobeSeesH264AndAACOverRTMPAndHTTPFLV() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/probe")
        defer { publisher.terminate() }

        for url in [server.rtmpURL("live/probe"), server.flvURL("live/probe")] {
            try await FFprobe.expectStreams(url, context: url)
        }
        await server.stop()
    }

    @Test func fiveSecondDecodeIsCleanAndStartsOnAKeyFrame() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/decode")
        defer { publisher.terminate() }
        // Join mid-GOP: the first video packet must still be a key frame (GOP cache).
        try await Task.sleep(nanoseconds: 700_000_000)

        for url in [server.rtmpURL("live/decode"), server.flvURL("live/decode")] {
            let decode = try await ChildProcess.run("ffmpeg", ["-v", "error", "-i", url, "-t", "5", "-f", "null", "-"], timeout: 40)
            expectCleanDecode(decode.status, decode.err, url)

            let first = try await ChildProcess.run("ffprobe", [
                "-v", "error", "-select_streams", "v", "-show_entries", "packet=flags",
                "-read_intervals", "%+#1", "-of", "compact", url,
            ], timeout: 30)
            #expect(first.out.hasPrefix("packet|flags=K"), "first video packet over \(url): \(first.out) \(first.err)")
        }
        await server.stop()
    }

    @Test(arguments: [0, 350])
    func lateJoinerGetsAKeyFrameAtOnce(mergeWriteMs: Int) async throws {
        let times = try await TestServer.lateJoinTimes("live/late", mergeWriteMs: mergeWriteMs, joins: 5) { server, _ in
            let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort,
                                                         path: "/live/late.flv", group: Self.group)
            let stats = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
            await player.close()
            #expect(stats.status == 200)
            #expect(stats.firstVideoIsKey == true)
            #expect(stats.error == nil, "\(stats.error ?? "")")
            let ttff = try #require(stats.timeToFirstFrame)
            return Double(ttff.nanoseconds) / 1e6
        }
        // "Well under a second": the GOP cache answers at once, whatever the merge window.
        #expect(times[2] < 500, "median time to first frame \(times[2]) ms")
    }

    @Test func ourRTMPPlayerStartsOnAKeyFrameAtOnce() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/rtmpplay")
        defer { publisher.terminate() }
        try await Task.sleep(nanoseconds: 900_000_000)
        let player = try await RTMPPlayer.connect(url: server.rtmpURL("live/rtmpplay"), group: Self.group)
        let stats = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= 50 }
        await player.close()
        #expect(stats.error == nil, "\(stats.error ?? "")")
        #expect(stats.status == 200)
        #expect(stats.sequenceHeaders >= 1)
        #expect(stats.firstVideoIsKey == true)
        #expect(stats.videoFrames >= 50)
        #expect(stats.audioFrames > 0)
        let ttff = try #require(stats.timeToFirstFrame)
        #expect(ttff < .milliseconds(500))
        await server.stop()
    }

    @Test func playerThatArrivesBeforeThePublisherGetsTheStream() async throws {
        let server = try await TestServer.start("\"source\": {\"play_wait_ms\": 8000}")
        let media = try await TestMedia.shared.h264AACFLV()
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort,
                                                     path: "/live/early.flv", group: Self.group)
        let probe = try ChildProcess("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width,height",
                                                 "-of", "compact", server.rtmpURL("live/early")])
        defer { probe.terminate() }
        try await Task.sleep(nanoseconds: 800_000_000)
        let publisher = try server.publish(media, stream: "live/early")
        defer { publisher.terminate() }

        let stats = await player.wait(timeout: .seconds(10)) { $0.videoFrames >= 10 }
        #expect(stats.status == 200)
        #expect(stats.videoFrames >= 10)
        #expect(stats.firstVideoIsKey == true)
        await player.close()
        let status = await probe.wait(seconds: 20)
        #expect(status == 0, "ffprobe: \(probe.stderr)")
        #expect(probe.stdout.contains("codec_name=h264|width=1280|height=720"))
        await server.stop()
    }

    @Test func unknownStreamIs404AfterTheWait() async throws {
        let server = try await TestServer.start("\"source\": {\"play_wait_ms\": 300}")
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort,
                                                     path: "/live/nothing.flv", group: Self.group)
        let stats = await player.wait(timeout: .seconds(5)) { $0.status != nil }
        #expect(stats.status == 404)
        await player.close()
        let rtmp = try await ChildProcess.run("ffprobe", ["-v", "error", server.rtmpURL("live/nothing")], timeout: 20)
        #expect(rtmp.status != 0)
        await server.stop()
    }

    @Test func secondPublisherIsRefusedWhileTheFirstKeepsFlowing() async throws {
        let (server, first) = try await TestServer.startPublishing("live/dup")
        defer { first.terminate() }
        let media = try await TestMedia.shared.h264AACFLV()
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort,
                                                     path: "/live/dup.flv", group: Self.group)
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }

        try await server.expectPublishRefused(media, stream: "live/dup")
        #expect(await server.log.eventually("already being published"))

        let before = player.stats.videoFrames
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let after = player.stats
        #expect(after.videoFrames - before >= 15, "first stream kept flowing: \(after.videoFrames - before) frames in 1 s")
        #expect(first.isRunning)
        await player.close()
        await server.stop()
    }

    @Test func withTakeoverConfiguredTheNewPublisherReplacesTheOld() async throws {
        let (server, first) = try await TestServer.startPublishing("live/takeover", "\"source\": {\"reject_duplicate_publish\": false}")
        defer { first.terminate() }
        let media = try await TestMedia.shared.h264AACFLV()
        let before = server.server.context.registry.source("live/takeover")
        let second = try server.publish(media, stream: "live/takeover")
        defer { second.terminate() }
        // The old publisher's connection is closed: its ffmpeg exits with an error.
        let status = await first.wait(seconds: 15)
        #expect(status != nil && status != 0)
        #expect(await server.waitPlayable("live/takeover"))
        let after = server.server.context.registry.source("live/takeover")
        #expect(after != nil && after !== before)
        #expect(second.isRunning)
        await server.stop()
    }
}
