import Foundation
import RelayCore
import Testing

/// The real `relay-camera` binary pushes Annex-B input to our relay (and to nginx-rtmp); real
/// ffprobe/ffmpeg and a Swift HTTP-FLV probe pull it back.
@Suite(.serialized)
struct CameraTests {
    static let nginx = "/usr/sbin/nginx"
    static let nginxModule: String? = [
        "/usr/lib/nginx/modules/ngx_rtmp_module.so", "/usr/share/nginx/modules/ngx_rtmp_module.so",
    ].first { FileManager.default.fileExists(atPath: $0) }
    static let nginxAvailable = FileManager.default.isExecutableFile(atPath: nginx) && nginxModule != nil

    /// H.264 + G.711 with --stamp and --record: ffprobe over RTMP and HTTP-FLV, a clean 5 s
    /// decode, capture-stamp latency through the relay, the recording, and a clean SIGINT stop.
    @Test func h264PushPlaysOverRTMPAndHTTPFLVAndRecords() async throws {
        let server = try await TestServer.start()
        let video = try await CameraMedia.shared.h264()
        let audio = try await CameraMedia.shared.alaw()
        let record = await CameraMedia.shared.tempDir + "/rec-\(UUID().uuidString).flv"
        defer { try? FileManager.default.removeItem(atPath: record) }
        let camera = try ProductBinary.camera.start([
            "--input", video, "--audio", audio, "--url", server.rtmpURL("live/cam"), "--loop", "--stamp",
            "--record", record,
        ])
        defer { camera.terminate() }
        #expect(await server.waitPlayable("live/cam"), "camera did not publish: \(camera.stderr)")
        let probe = try await FLVProbe.connect(port: server.httpPort, path: "/live/cam.flv")

        for url in [server.rtmpURL("live/cam"), server.flvURL("live/cam")] {
            let r = try await FFprobe.run(url)
            #expect(r.status == 0, "ffprobe \(url): \(r.err)")
            #expect(r.out.contains("codec_name=h264|width=1280|height=720"), "\(url): \(r.out)")
            #expect(r.out.contains("codec_name=pcm_alaw|sample_rate=8000|channels=1"), "\(url): \(r.out)")
        }
        // The SEI stamps must not upset a decoder.
        async let rtmpDecode = ChildProcess.run("ffmpeg", ["-v", "error", "-i", server.rtmpURL("live/cam"), "-t", "5",
                                                           "-f", "null", "-"], timeout: 40)
        async let flvDecode = ChildProcess.run("ffmpeg", ["-v", "error", "-i", server.flvURL("live/cam"), "-t", "5",
                                                          "-f", "null", "-"], timeout: 40)
        for (name, r) in [("rtmp", try await rtmpDecode), ("http-flv", try await flvDecode)] {
            expectCleanDecode(r.status, r.err, name)
        }

        // Glass-to-glass latency from the stamps: camera → relay → HTTP-FLV player.
        let stats = await probe.wait(seconds: 10) { $0.latenciesMs.count >= 200 }
        await probe.close()
        #expect(stats.error == nil, "\(stats.error ?? "")")
        #expect(stats.codec == .h264 && stats.firstVideoIsKey == true)
        #expect(stats.stampedFrames == stats.videoFrames, "every frame carries a stamp")
        let latencies = stats.latenciesMs.sorted()
        #expect(latencies.count >= 200, "only \(latencies.count) stamped frames after the first GOP")
        let p50 = percentile(latencies, 50)
        let p99 = percentile(latencies, 99)
        print("relay-camera → relay → HTTP-FLV latency over \(latencies.count) frames: p50 \(p50) ms, p99 \(p99) ms")
        #expect(p50 >= 0 && p50 < 250, "p50 \(p50) ms")
        #expect(p99 < 1000, "p99 \(p99) ms")

        camera.signal(SIGINT)
        let status = await camera.wait(seconds: 10)
        #expect(status == 0, "relay-camera exit: \(camera.stderr)")
        #expect(camera.stderr.contains("rtmp: 1 sessions, 0 reconnects"), "\(camera.stderr)")
        #expect(camera.stderr.contains("record:"), "\(camera.stderr)")

        let rec = try await FFprobe.run(record, entries: "stream=codec_name,width,height,sample_rate:format=duration")
        #expect(rec.status == 0, "ffprobe recording: \(rec.err)")
        #expect(rec.out.contains("codec_name=h264|width=1280|height=720"), "\(rec.out)")
        #expect(rec.out.contains("codec_name=pcm_alaw|sample_rate=8000"), "\(rec.out)")
        let duration = rec.out.split(separator: "=").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect((duration ?? 0) > 5, "recorded duration: \(rec.out)")
        let recDecode = try await ChildProcess.run("ffmpeg", ["-v", "error", "-i", record, "-f", "null", "-"], timeout: 60)
        #expect(recDecode.status == 0 && recDecode.err.isEmpty, "recording decode: \(recDecode.err)")
        await server.stop()
    }

    /// H.265 + AAC, as Enhanced RTMP `hvc1` and as legacy codec id 12: checked over RTSP with
    /// ffprobe (ffmpeg 5.1 cannot read HEVC in FLV) and over HTTP-FLV with our probe (hvc1).
    @Test(arguments: [false, true])
    func h265PushPlaysOverRTSPAndHTTPFLV(legacy: Bool) async throws {
        let server = try await TestServer.start()
        let video = try await CameraMedia.shared.h265()
        let audio = try await CameraMedia.shared.aac()
        let camera = try ProductBinary.camera.start([
            "--input", video, "--audio", audio, "--url", server.rtmpURL("live/hevc"), "--loop", "--stamp", "--quiet",
        ] + (legacy ? ["--legacy-hevc"] : []))
        defer { camera.terminate() }
        #expect(await server.waitPlayable("live/hevc"), "camera did not publish: \(camera.stderr)")

        let probe = try await FLVProbe.connect(port: server.httpPort, path: "/live/hevc.flv")
        try await FFprobe.expectStreams(server.rtspURL("live/hevc"), video: "codec_name=hevc|width=1280|height=720",
                                        rtspTransport: "tcp", context: "over RTSP")

        let stats = await probe.wait(seconds: 8) { $0.videoFrames >= 40 && $0.audioFrames >= 40 }
        await probe.close()
        #expect(stats.error == nil, "\(stats.error ?? "")")
        #expect(stats.codec == .h265)
        #expect(stats.sequenceHeaders >= 1)
        #expect(stats.firstVideoIsKey == true)
        #expect(stats.videoFrames >= 40 && stats.audioFrames >= 40, "\(stats)")
        #expect(stats.stampedFrames == stats.videoFrames, "H.265 prefix SEI stamps")
        camera.signal(SIGTERM)
        #expect(await camera.wait(seconds: 10) == 0, "\(camera.stderr)")
        await server.stop()
    }

    /// A third-party server: nginx with libnginx-mod-rtmp takes the push; ffprobe pulls from it.
    @Test(.enabled(if: nginxAvailable, "nginx with ngx_rtmp_module not installed (apt-get install nginx libnginx-mod-rtmp)"))
    func nginxRTMPAcceptsThePush() async throws {
        let nginx = try await NginxRTMP.start()
        defer { nginx.stop() }

        let video = try await CameraMedia.shared.h264()
        let audio = try await CameraMedia.shared.aac()
        let camera = try ProductBinary.camera.start([
            "--input", video, "--audio", audio, "--url", nginx.url("cam"), "--loop", "--quiet",
        ])
        defer { camera.terminate() }
        try await Task.sleep(nanoseconds: 1_500_000_000)
        try await FFprobe.expectStreams(nginx.url("cam"), context: "from nginx (camera: \(camera.stderr))")
        camera.signal(SIGINT)
        #expect(await camera.wait(seconds: 10) == 0, "\(camera.stderr)")
        #expect(camera.stderr.contains("rtmp: 1 sessions, 0 reconnects"), "\(camera.stderr)")
    }

    /// The relay dies mid-push and comes back on the same port: the camera republishes within
    /// its back-off and the stream plays again from a key frame.
    @Test func cameraRepublishesAfterTheRelayRestarts() async throws {
        let first = try await FixedPortServer.start()
        let port = first.rtmpPort
        let video = try await CameraMedia.shared.h264()
        let camera = try ProductBinary.camera.start([
            "--input", video, "--url", first.rtmpURL("live/restart"), "--loop", "--quiet",
            "--reconnect-min", "0.25", "--reconnect-max", "2",
        ])
        defer { camera.terminate() }
        let before = try await FLVProbe.connect(port: first.httpPort, path: "/live/restart.flv")
        let playing = await before.wait(seconds: 10) { $0.videoFrames >= 25 }
        #expect(playing.videoFrames >= 25, "first server: \(playing) \(camera.stderr)")
        await before.close()

        await first.stop()
        try await Task.sleep(nanoseconds: 1_000_000_000)  // down for a second: connects are refused
        let second = try await FixedPortServer.start(rtmpPort: port)
        defer { Task { await second.stop() } }
        let restartedAt = Date()
        var after: ProbeStats?
        while Date().timeIntervalSince(restartedAt) < 10 {
            let probe = try await FLVProbe.connect(port: second.httpPort, path: "/live/restart.flv")
            let s = await probe.wait(seconds: 3) { $0.videoFrames >= 25 }
            await probe.close()
            if s.videoFrames >= 25 {
                after = s
                break
            }
        }
        let stats = try #require(after, "stream did not play again after the restart: \(camera.stderr)")
        #expect(stats.firstVideoIsKey == true)
        #expect(stats.error == nil)
        // Back-off capped at 2 s (+ the publish itself): playing again well within 5 s.
        #expect(Date().timeIntervalSince(restartedAt) < 6, "took \(Date().timeIntervalSince(restartedAt)) s")
        camera.signal(SIGINT)
        #expect(await camera.wait(seconds: 10) == 0)
        #expect(camera.stderr.contains("reconnect #1"), "\(camera.stderr)")
        #expect(camera.stderr.contains("rtmp: 2 sessions"), "\(camera.stderr)")
        await second.stop()
    }
}
