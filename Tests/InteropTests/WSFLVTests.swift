import Foundation
import RelayCore
import Testing

/// FLV over WebSocket on the HTTP-FLV port, played by a real client (Python's websocket-client,
/// Scripts/ws_flv_player.py) and decoded by ffprobe.
@Suite(.serialized)
struct WSFLVTests {
    /// What ws_flv_player.py printed.
    struct Play {
        let json: JSONValue
        var status: Int? { json["status"]?.int }
        var frames: Int { json["frames"]?.int ?? 0 }
    }

    static func play(_ url: String, seconds: Double = 2, out: String? = nil, ping: Bool = false) async throws -> Play {
        let script = "\(HookServer.repoRoot)/Tests/InteropTests/Scripts/ws_flv_player.py"
        var args = ["-u", script, url, "--seconds", String(seconds)]
        if let out { args += ["--out", out] }
        if ping { args.append("--ping") }
        let r = try await ChildProcess.run("python3", args, timeout: seconds + 20)
        #expect(r.status == 0, "ws_flv_player.py: \(r.err)")
        let line = r.out.split(separator: "\n").last.map(String.init) ?? ""
        return Play(json: (try? JSONValue.parse(Data(line.utf8))) ?? .null)
    }

    static func wsURL(_ server: TestServer, _ path: String) -> String { "ws://127.0.0.1:\(server.httpPort)/\(path)" }

    @Test func ffprobeDecodesTheWebSocketStreamAndPingAndCloseAreAnswered() async throws {
        let (server, publisher) = try await TestServer.startPublishing("rtp/34020000")
        defer { publisher.terminate() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wsflv-\(UUID().uuidString).flv").path
        defer { try? FileManager.default.removeItem(atPath: file) }

        let play = try await Self.play(Self.wsURL(server, "rtp/34020000.live.flv"), out: file, ping: true)
        #expect(play.status == 101, "\(play.json)")
        #expect(play.json["first_bytes"]?.string == "464c56", "first frame starts with the FLV header: \(play.json)")
        #expect(play.frames > 10, "\(play.json)")
        #expect(play.json["pong"]?.string == "relay-ping", "\(play.json)")
        #expect(play.json["close_reply"]?.int == 1000, "close echoed: \(play.json)")
        try await FFprobe.expectStreams(file, context: "WS-FLV payloads")
        // One unchunked FLV: the file parses to the end (no HTTP chunk lines inside).
        let packets = try await ChildProcess.run("ffprobe", ["-v", "error", "-show_entries", "packet=codec_type", "-of", "csv", file], timeout: 30)
        #expect(packets.err.isEmpty, "\(packets.err)")
        #expect(packets.out.contains("video") && packets.out.contains("audio"))
        #expect(await server.log.eventually("ws-flv player joined"))
        await server.stop()
    }

    @Test func refusalsAreHTTPStatusesWithoutAnUpgrade() async throws {
        let hooks = try await HookServer.start(["--secret", "s3"])
        defer { hooks.stop() }
        let server = try await TestServer.start(#""source": {"play_wait_ms": 300}, "hooks": {"on_play": "\#(hooks.url)"}"#)
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/wsauth")
        defer { publisher.terminate() }

        // on_play denies (the example hook answers 401 without the token): no upgrade, the status.
        let denied = try await Self.play(Self.wsURL(server, "live/wsauth.flv?token=wrong"), seconds: 1)
        #expect(denied.status == 401, "\(denied.json)")
        #expect(denied.frames == 0)
        let plays = await hooks.wait(for: "on_play")
        #expect(plays.contains { $0["protocol"] as? String == "ws-flv" && $0["_status"] as? Int == 401 }, "\(plays)")
        let allowed = try await Self.play(Self.wsURL(server, "live/wsauth.flv?token=s3"), seconds: 1)
        #expect(allowed.status == 101 && allowed.frames > 0, "\(allowed.json)")

        // No such stream (after play_wait_ms): 404.
        let missing = try await Self.play(Self.wsURL(server, "live/nothing.live.flv?token=s3"), seconds: 1)
        #expect(missing.status == 404, "\(missing.json)")

        // A broken handshake (no Sec-WebSocket-Key) is a 400, before any hook is asked.
        let asked = hooks.events("on_play").count
        let bad = try await AdminHTTP(port: server.httpPort).request(
            "GET", "/live/wsauth.flv?token=s3", headers: ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"])
        #expect(bad.status == 400, "\(bad.text)")
        #expect(hooks.events("on_play").count == asked)
        // HTTP-FLV on the same URL is unchanged.
        let flv = try await FFprobe.run(server.flvURL("live/wsauth") + "?token=s3")
        #expect(flv.out.contains("codec_name=h264"), "\(flv.err)")
        await server.stop()
    }

    @Test func playerIsListedAsWSFLVAndGoneWhenItCloses() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let (server, publisher) = try await TestServer.startPublishing(
            "live/wslist", #""hooks": {"on_play_done": "\#(hooks.url)"}"#)
        defer { publisher.terminate() }
        let api = AdminHTTP(port: server.adminPort)

        async let played = Self.play(Self.wsURL(server, "live/wslist.flv?viewer=9"), seconds: 2.5)
        var listed: [JSONValue] = []
        for _ in 0..<100 {
            listed = try await api.get("/api/v1/players?stream=live%2Fwslist").value["players"]?.items ?? []
            if !listed.isEmpty { break }
            try await Task.sleep(nanoseconds: 30_000_000)
        }
        #expect(listed.count == 1 && listed.first?["protocol"]?.string == "ws-flv", "\(listed)")
        let play = try await played
        #expect(play.status == 101 && play.frames > 0, "\(play.json)")

        let done = try #require(await hooks.wait(for: "on_play_done").first)
        #expect(done["protocol"] as? String == "ws-flv")
        #expect(done["kind"] as? String == "ws-flv")
        #expect((done["params"] as? [String: String])?["viewer"] == "9")
        #expect((done["bytes_sent"] as? Int ?? 0) >= play.json["bytes"]?.int ?? .max, "\(done)")
        var left: [JSONValue] = listed
        for _ in 0..<50 where !left.isEmpty {
            left = try await api.get("/api/v1/players?stream=live%2Fwslist").value["players"]?.items ?? []
            try await Task.sleep(nanoseconds: 30_000_000)
        }
        #expect(left.isEmpty, "\(left)")
        let metrics = try await api.get("/metrics")
        #expect(metrics.text.contains("protocol=\"ws-flv\""), "ws-flv series present")
        await server.stop()
    }
}
