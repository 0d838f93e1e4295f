import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayJT1078
import Testing

/// JT/T 1078 in (our terminal: in-process, or `relay-bench jt-send`), real ffprobe/ffmpeg out over
/// RTMP, HTTP-FLV and RTSP.
@Suite(.serialized)
struct JT1078Tests {
    static let group = MultiThreadedEventLoopGroup.singleton

    // MARK: media in

    /// 2016 layout, H.264 + G.711A, two channels of one terminal on one connection.
    @Test func h264AndG711AIn2016AreSeenAndDecodedOverRTMPHTTPFLVAndRTSP() async throws {
        let server = try await TestServer.start()
        let media = try await JTMedia.shared.load(video: .h264, audio: true)
        let sender = Self.send(media, JT1078SendOptions(version: .v2016, sim: "013912345678", channels: [1, 2], loop: true),
                               port: server.jtPort)
        defer { sender.cancel() }
        // The SIM's zero padding goes (strip_leading_zeros): the same id as a 2019 terminal gets.
        #expect(await server.waitPlayable("13912345678/1"))
        #expect(await server.waitPlayable("13912345678/2"))
        #expect(await server.log.eventually("JT/T 1078-2016 layout (detected from the first packages)"))

        let stream = "13912345678/1"
        for (url, rtsp) in [(server.rtmpURL(stream), false), (server.flvURL(stream), false), (server.rtspURL(stream), true)] {
            let r = try await Self.probe(url, rtsp: rtsp)
            #expect(r.status == 0, "ffprobe \(url): \(r.err)")
            #expect(r.out.contains("codec_name=h264|width=1280|height=720"), "\(url): \(r.out)")
            // FLV sound format 7 on RTMP/HTTP-FLV, PCMA on RTSP: ffprobe calls both pcm_alaw.
            #expect(r.out.contains("codec_name=pcm_alaw|sample_rate=8000|channels=1"), "\(url): \(r.out)")
        }
        let second = await server.server.context.registry.source("13912345678/2")?.streams ?? []
        #expect(second.map(\.codec) == [.h264, .g711a] && second.first?.video?.width == 1280, "channel 2: \(second)")

        async let flv = Self.decode(server.flvURL(stream), rtsp: false)
        async let rtsp = Self.decode(server.rtspURL(stream), rtsp: true)
        for (name, r) in [("HTTP-FLV", try await flv), ("RTSP", try await rtsp)] {
            expectCleanDecode(r.status, r.err, name)
        }
        sender.cancel()
        await server.stop()
    }

    /// 2019 layout from `relay-bench jt-send` with the quirks of real terminals: the HiSilicon
    /// header before each audio frame, and every package marked atomic.
    @Test func h264AndG711AIn2019FromJTSendWithTerminalQuirks() async throws {
        let server = try await TestServer.start()
        let files = try await JTMedia.shared.files(video: .h264)
        let sender = try ProductBinary.bench.start([
            "jt-send", "--video", files.video, "--audio", files.audio, "--host", "127.0.0.1", "--port", String(server.jtPort),
            "--version", "2019", "--sim", "13912345678", "--channel", "3", "--loop", "--duration", "30",
            "--hisilicon", "--marks", "all-atomic",
        ])
        defer { sender.terminate() }
        let stream = "13912345678/3"
        #expect(await server.waitPlayable(stream), "jt-send: \(sender.stderr)")
        #expect(await server.log.eventually("JT/T 1078-2019 layout (detected from the first packages)"))
        #expect(await server.log.eventually("HiSilicon"))
        #expect(await server.log.eventually("sub-package marks are wrong"))

        for (url, rtsp) in [(server.rtmpURL(stream), false), (server.flvURL(stream), false), (server.rtspURL(stream), true)] {
            let r = try await Self.probe(url, rtsp: rtsp)
            #expect(r.status == 0, "ffprobe \(url): \(r.err)")
            #expect(r.out.contains("codec_name=h264|width=1280|height=720"), "\(url): \(r.out)")
            #expect(r.out.contains("codec_name=pcm_alaw|sample_rate=8000|channels=1"), "\(url): \(r.out)")
        }
        let r = try await Self.decode(server.rtmpURL(stream), rtsp: false)
        expectCleanDecode(r.status, r.err, "RTMP")
        sender.signal(SIGINT)
        #expect(await sender.wait(seconds: 10) == 0, "jt-send: \(sender.stderr)")
        #expect(sender.stdout.contains("\"video_frames\":"), "jt-send output: \(sender.stdout)")
        await server.stop()
    }

    /// H.265 (PT 99), 2019 layout on the port pinned to 2019. The ffprobe/ffmpeg here (5.1) read
    /// H.265 in neither Enhanced RTMP nor codec-id-12 FLV, so RTSP is checked with them and RTMP /
    /// HTTP-FLV with players that parse every message / tag.
    @Test func h265In2019OnThePinnedPortIsSeenAndDecodedEverywhere() async throws {
        let pinned = try await Self.freePort()
        let server = try await TestServer.start(jt1078: ", \"port_2019\": \(pinned)")
        #expect(server.jt2019Port == pinned)
        let media = try await JTMedia.shared.load(video: .h265, audio: true)
        let sender = Self.send(media, JT1078SendOptions(version: .v2019, sim: "64000000000000000001", channels: [1], loop: true),
                               port: pinned)
        defer { sender.cancel() }
        let stream = "64000000000000000001/1"
        #expect(await server.waitPlayable(stream))
        #expect(await server.log.eventually("JT/T 1078-2019 layout (pinned by port \(pinned))"))
        let tracks = await server.server.context.registry.source(stream)?.streams ?? []
        #expect(tracks.map(\.codec) == [.h265, .g711a])
        #expect(tracks.first?.video?.width == 1280 && tracks.first?.video?.height == 720)

        let url = server.rtspURL(stream)
        let r = try await Self.probe(url, rtsp: true)
        #expect(r.status == 0, "ffprobe \(url): \(r.err)")
        #expect(r.out.contains("codec_name=hevc|width=1280|height=720"), "\(url): \(r.out)")
        #expect(r.out.contains("codec_name=pcm_alaw|sample_rate=8000|channels=1"), "\(url): \(r.out)")

        async let decoded = Self.decode(url, rtsp: true)
        let flv = try await FLVProbe.connect(port: server.httpPort, path: "/\(stream).flv")
        let rtmp = try await RTMPPlayer.connect(url: server.rtmpURL(stream), group: Self.group)
        let flvStats = await flv.wait(seconds: 10) { $0.videoFrames >= 50 && $0.audioFrames >= 25 }
        let rtmpStats = await rtmp.wait(timeout: .seconds(10)) { $0.videoFrames >= 50 && $0.audioFrames >= 25 }
        await flv.close()
        await rtmp.close()
        #expect(flvStats.error == nil && flvStats.status == 200, "HTTP-FLV: \(flvStats)")
        #expect(flvStats.codec == .h265 && flvStats.sequenceHeaders >= 1 && flvStats.firstVideoIsKey == true, "HTTP-FLV: \(flvStats)")
        #expect(flvStats.videoFrames >= 50 && flvStats.audioFrames >= 25, "HTTP-FLV: \(flvStats)")
        #expect(rtmpStats.error == nil && rtmpStats.sequenceHeaders >= 1 && rtmpStats.firstVideoIsKey == true, "RTMP: \(rtmpStats)")
        #expect(rtmpStats.videoFrames >= 50 && rtmpStats.audioFrames >= 25, "RTMP: \(rtmpStats)")

        let d = try await decoded
        expectCleanDecode(d.status, d.err, "RTSP")
        sender.cancel()
        await server.stop()
    }

    // MARK: bad input, timeouts, hooks

    /// Garbage before and between packages is skipped (and logged); a terminal speaking 2016 on the
    /// port pinned to 2019, and a connection that sends nothing, are closed with a clear line.
    @Test func garbageWrongLayoutAndSilenceAreHandled() async throws {
        let pinned = try await Self.freePort()
        let server = try await TestServer.start(jt1078: ", \"port_2019\": \(pinned), \"receive_timeout_ms\": 1500")
        let media = try await JTMedia.shared.load(video: .h264, audio: true)
        var schedule = try JT1078Schedule(media: media, options: JT1078SendOptions(version: .v2016, sim: "13800000001", duration: 3))
        var steps: [ByteBuffer] = []
        while let step = schedule.next() { steps.append(step.bytes) }

        let dirty = try await RawConnection.connect(port: server.jtPort)
        var bytes = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        bytes.writeImmutableBuffer(steps[0])
        bytes.writeImmutableBuffer(steps[1])
        for (i, step) in steps.dropFirst(2).enumerated() {
            if i % 10 == 0 { bytes.writeBytes([0x30, 0x31, 0x63, 0x64, 0xEE, 0xEE, 0x00, 0x01, 0x02]) }
            bytes.writeImmutableBuffer(step)
        }
        try await dirty.send(bytes)
        #expect(await server.waitPlayable("13800000001/1"))
        #expect(await server.log.eventually("that were no valid JT/T 1078-2016 package"))

        // 2016 packages on the 2019 port: nothing is published; closed for want of a valid package.
        let wrong = try await RawConnection.connect(port: pinned)
        var wrongBytes = ByteBuffer()
        var other = try JT1078Schedule(media: media, options: JT1078SendOptions(version: .v2016, sim: "13800000002", duration: 2))
        while let step = other.next() { wrongBytes.writeImmutableBuffer(step.bytes) }
        try await wrong.send(wrongBytes)
        #expect(await wrong.waitClosed(seconds: 10))
        #expect(server.server.context.registry.source("13800000002/1") == nil)
        #expect(await server.log.eventually("closing JT/T 1078 connection"))

        // Silence: closed after receive_timeout_ms.
        let silent = try await RawConnection.connect(port: server.jtPort)
        let started = Date()
        #expect(await silent.waitClosed(seconds: 10))
        let waited = Date().timeIntervalSince(started)
        #expect(waited > 1.2 && waited < 6, "closed after \(waited) s")
        #expect(await server.log.eventually("no valid JT/T 1078 package for 1500 ms"))

        // The publishing connection is unaffected, and its stream ends with it.
        #expect(!dirty.isClosed)
        await dirty.close()
        #expect(await Self.waitGone(server, "13800000001/1", seconds: 5))
        await wrong.close()
        await silent.close()
        await server.stop()
    }

    /// on_publish is asked on each stream's first frame: denied → the stream is refused and the
    /// terminal's connection (carrying nothing else) is closed; the hook sees protocol jt1078.
    @Test func publishHookDeniesAndTheConnectionCloses() async throws {
        let hooks = try await HookServer.start(["--secret", "s3"])
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_publish": "\#(hooks.url)"}"#)
        let media = try await JTMedia.shared.load(video: .h264, audio: false)
        let result = NIOLockedValueBox<Result<JT1078SendStats, any Error>?>(nil)
        let sender = Task {
            do {
                let stats = try await JT1078Sender.run(media: media, options: JT1078SendOptions(sim: "13912340000", channels: [7], loop: true),
                                                       host: "127.0.0.1", port: server.jtPort, group: Self.group)
                result.withLockedValue { $0 = .success(stats) }
            } catch {
                result.withLockedValue { $0 = .failure(error) }
            }
        }
        defer { sender.cancel() }
        let publishes = await hooks.wait(for: "on_publish")
        let body = try #require(publishes.first)
        #expect(body["protocol"] as? String == "jt1078")
        #expect(body["stream"] as? String == "13912340000/7")
        let params = body["params"] as? [String: String]
        #expect(params?["sim"] == "013912340000" && params?["channel"] == "7" && params?["version"] == "2016")
        #expect(body["_status"] as? Int == 401)

        // The server hangs up: the sender's writes fail.
        let deadline = Date().addingTimeInterval(10)
        while result.withLockedValue({ $0 == nil }) && Date() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
        let outcome = result.withLockedValue { $0 }
        if case .failure = outcome {} else { Issue.record("the sender was not hung up on: \(String(describing: outcome))") }
        #expect(await server.log.eventually("publish denied"))
        #expect(server.server.context.registry.source("13912340000/7") == nil)
        await server.stop()
    }

    // MARK: helpers

    static func send(_ media: JT1078SendMedia, _ options: JT1078SendOptions, port: Int) -> Task<Void, Never> {
        Task {
            _ = try? await JT1078Sender.run(media: media, options: options, host: "127.0.0.1", port: port, group: group)
        }
    }

    static func probe(_ url: String, rtsp: Bool) async throws -> (status: Int32?, out: String, err: String) {
        try await FFprobe.run(url, rtspTransport: rtsp ? "tcp" : nil)
    }

    static func decode(_ url: String, rtsp: Bool) async throws -> (status: Int32?, out: String, err: String) {
        try await ChildProcess.run("ffmpeg", ["-v", "error"] + (rtsp ? ["-rtsp_transport", "tcp"] : []) + [
            "-i", url, "-t", "5", "-f", "null", "-",
        ], timeout: 40)
    }

    static func waitGone(_ server: TestServer, _ stream: String, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if server.server.context.registry.source(stream) == nil { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return false
    }

    /// A port free right now (for `port_2019`, which has no "any port" value).
    static func freePort() async throws -> Int {
        let ch = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = ch.localAddress?.port ?? 0
        try await ch.close()
        return port
    }
}

/// Annex-B H.264 / H.265 and raw A-law as a terminal's encoder hands them out, made with ffmpeg
/// once per test run.
actor JTMedia {
    static let shared = JTMedia()
    private let cache = MediaCache("jt1078-media")

    /// 720p25, GOP 25, no B-frames, parameter sets before every key frame (as terminals send them).
    func files(video: AnnexBVideo) async throws -> (video: String, audio: String) {
        let v = try await cache.annexB(video, stem: "jt_720p", size: "1280x720", seconds: video == .h264 ? 4 : 2, bitrate: "1M")
        let a = try await cache.alaw("jt_8k.alaw", seconds: 4)
        return (v, a)
    }

    func load(video: AnnexBVideo, audio: Bool) async throws -> JT1078SendMedia {
        let f = try await files(video: video)
        return try JT1078SendMedia.load(video: f.video, audio: audio ? f.audio : nil)
    }
}
