import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import Testing

/// SIGTERM to the real `relay` process: it stops accepting, sends the done hooks, closes its
/// recording (a valid FLV file) and exits within 5 s.
@Suite(.serialized)
struct ShutdownTests {
    /// The port a listener logged ("rtmp listening on 127.0.0.1:PORT").
    static func port(_ name: String, in log: String) -> Int? {
        for line in log.split(separator: "\n") {
            guard let r = line.range(of: "\(name) listening on ") else { continue }
            return line[r.upperBound...].split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }
        }
        return nil
    }

    @Test func sigtermSendsDoneHooksClosesTheRecordingAndExitsInTime() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relay-shutdown-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = """
        {"log_level": "info",
         "rtmp": {"host": "127.0.0.1", "port": 0}, "http_flv": {"host": "127.0.0.1", "port": 0},
         "rtsp": {"enabled": false}, "admin": {"enabled": false}, "jt1078": {"enabled": false}, "webrtc": {"enabled": false},
         "gb28181": {"enabled": false},
         "record": {"enabled": true, "dir": "\(dir)/rec", "segment_ms": 0},
         "hooks": {"on_publish_done": "\(hooks.url)", "on_play_done": "\(hooks.url)", "on_record": "\(hooks.url)"}}
        """
        try config.write(toFile: "\(dir)/config.json", atomically: true, encoding: .utf8)
        let relay = try ChildProcess(try ProductBinary.relay.path(), ["--config", "\(dir)/config.json"])
        defer { relay.terminate() }
        var rtmpPort: Int?, httpPort: Int?
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, relay.isRunning, rtmpPort == nil || httpPort == nil {
            rtmpPort = Self.port("rtmp", in: relay.stderr)
            httpPort = Self.port("http_flv", in: relay.stderr)
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        let rtmp = try #require(rtmpPort, "relay did not start: \(relay.stderr)")
        let http = try #require(httpPort)

        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try ChildProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                                                    "-i", media, "-c", "copy", "-f", "flv", "rtmp://127.0.0.1:\(rtmp)/live/bye"])
        defer { publisher.terminate() }
        var player: HTTPFLVPlayer?
        while Date() < deadline.addingTimeInterval(5), player == nil {
            let p = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: http, path: "/live/bye.flv",
                                                   group: MultiThreadedEventLoopGroup.singleton)
            if await p.wait(timeout: .seconds(3), until: { $0.videoFrames > 0 || $0.closed }).videoFrames > 0 { player = p } else { await p.close() }
        }
        let flv = try #require(player, "no stream to play: \(relay.stderr)")
        _ = await flv.wait(timeout: .seconds(5)) { $0.videoFrames >= 60 }  // a recording of over two seconds

        relay.signal(SIGTERM)
        let sent = Date()
        let status = await relay.wait(seconds: 8)
        let took = Date().timeIntervalSince(sent)
        #expect(status == 0, "relay exit status \(String(describing: status)): \(relay.stderr.suffix(2000))")
        #expect(took < 5, "relay took \(took) s to exit")
        #expect(relay.stderr.contains("received SIGTERM, shutting down"))
        #expect(relay.stderr.contains("stopped"))
        #expect(await flv.wait(timeout: .seconds(2)) { $0.closed }.closed, "player not ended")
        // Not accepting any more.
        await #expect(throws: (any Error).self) { _ = try await RawConnection.connect(port: rtmp) }

        #expect(await hooks.wait(for: "on_publish_done").count == 1)
        #expect(await hooks.wait(for: "on_play_done").count == 1)
        let record = try #require(await hooks.wait(for: "on_record").first, "no on_record: \(hooks.events)")
        let file = try #require(record["path"] as? String, "\(record)")
        let probe = try await ChildProcess.run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", file],
                                               timeout: 20)
        #expect(probe.status == 0 && probe.err.isEmpty, "ffprobe: \(probe.err)")
        #expect((Double(probe.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 1.5, "duration \(probe.out)")
        let decode = try await ChildProcess.run("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"], timeout: 30)
        #expect(decode.status == 0 && decode.err.isEmpty, "decoding the recording: \(decode.err)")
        await flv.close()
    }
}
