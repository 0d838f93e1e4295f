import Foundation
import RelayCore
import RelayTestSupport
import Testing

/// Pull proxies against real origins: nginx-rtmp, a second relay over RTMP and HTTP-FLV; read
/// back with ffprobe; driven through `/api/v1/pulls` and config.
@Suite(.serialized)
struct PullTests {
    /// The pull section of a test relay: quick retries, a short on-demand idle time.
    static let pullConfig = #""pull": {"reconnect_min_ms": 200, "reconnect_max_ms": 1000, "on_demand_idle_ms": 1000"#

    static func startEdge(_ pulls: String = "") async throws -> TestServer {
        try await TestServer.start(pullConfig + (pulls.isEmpty ? "" : ", \"pulls\": [\(pulls)]") + "}")
    }

    static func ffmpegPush(_ url: String) async throws -> ChildProcess {
        let media = try await TestMedia.shared.h264AACFLV()
        return try ChildProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", media,
                                           "-c", "copy", "-f", "flv", url])
    }

    /// POSTs a pull; expects 201 and returns its snapshot.
    @discardableResult
    static func addPull(_ server: TestServer, _ body: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let r = try await AdminHTTP(port: server.adminPort).post("/api/v1/pulls", json: body)
        #expect(r.status == 201, "\(r.text)", sourceLocation: sourceLocation)
        return r.value
    }

    /// Polls `GET /api/v1/pulls/{stream}` until `done` holds (or `seconds` pass); the last answer.
    static func waitPull(_ server: TestServer, _ stream: String, seconds: Double = 15,
                         until done: (JSONValue) -> Bool) async throws -> JSONValue {
        let admin = AdminHTTP(port: server.adminPort)
        let deadline = Date().addingTimeInterval(seconds)
        var last = JSONValue.null
        while Date() < deadline {
            last = try await admin.get("/api/v1/pulls/\(stream)").value
            if done(last) { return last }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return last
    }

    static func players(_ server: TestServer, _ stream: String) async -> Int {
        guard let source = server.server.context.registry.source(stream) else { return 0 }
        return await source.snapshot().players.values.reduce(0, +)
    }

    @Test(.enabled(if: NginxRTMP.available, "nginx with ngx_rtmp_module not installed (apt-get install nginx libnginx-mod-rtmp)"))
    func pullsFromNginxRTMP() async throws {
        let nginx = try await NginxRTMP.start()
        defer { nginx.stop() }
        let publisher = try await Self.ffmpegPush(nginx.url("cam"))
        defer { publisher.terminate() }
        let edge = try await Self.startEdge()
        try await Self.addPull(edge, #"{"stream": "live/fromnginx", "url": "\#(nginx.url("cam"))"}"#)

        let playing = try await Self.waitPull(edge, "live/fromnginx") { $0["state"]?.string == "playing" }
        #expect(playing["state"]?.string == "playing", "\(playing) \(edge.log.lines.suffix(30).joined(separator: "\n")) \(nginx.errorLog)")
        #expect(await edge.waitPlayable("live/fromnginx"))
        try await FFprobe.expectStreams(edge.flvURL("live/fromnginx"), context: "HTTP-FLV of a pull from nginx")
        try await FFprobe.expectStreams(edge.rtspURL("live/fromnginx"), rtspTransport: "tcp", context: "RTSP of a pull from nginx")
        let measured = try await Self.waitPull(edge, "live/fromnginx") { ($0["bitrate_kbps"]?.double ?? 0) > 100 }
        #expect((measured["bitrate_kbps"]?.double ?? 0) > 100, "\(measured)")
        #expect((measured["bytes_in"]?.double ?? 0) > 10_000, "\(measured)")
        #expect(measured["url"]?.string == "rtmp://127.0.0.1:\(nginx.port)/live/cam")

        let admin = AdminHTTP(port: edge.adminPort)
        let list = try await admin.get("/api/v1/pulls")
        #expect(list.status == 200 && list.value.items.count == 1, "\(list.text)")
        let deleted = try await admin.delete("/api/v1/pulls/live/fromnginx")
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(try await admin.get("/api/v1/pulls/live/fromnginx").status == 404)
        #expect(try await admin.delete("/api/v1/pulls/live/fromnginx").status == 404)
        var gone = false
        for _ in 0..<100 where !gone {
            gone = edge.server.context.registry.source("live/fromnginx") == nil
            if !gone { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        #expect(gone, "the pulled stream should close with its pull")
        await edge.stop()
    }

    @Test func pullsHTTPFLVAndRTMPFromAnotherRelay() async throws {
        let (origin, publisher) = try await TestServer.startPublishing("live/src")
        defer { publisher.terminate() }
        let edge = try await Self.startEdge()
        try await Self.addPull(edge, #"{"stream": "live/overflv", "url": "\#(origin.flvURL("live/src"))"}"#)
        try await Self.addPull(edge, #"{"stream": "live/overrtmp", "url": "\#(origin.rtmpURL("live/src"))"}"#)
        for stream in ["live/overflv", "live/overrtmp"] {
            let state = try await Self.waitPull(edge, stream) { $0["state"]?.string == "playing" }
            #expect(state["state"]?.string == "playing", "\(stream): \(state)")
            #expect(await edge.waitPlayable(stream), "\(stream)")
            try await FFprobe.expectStreams(edge.flvURL(stream), context: "HTTP-FLV of \(stream)")
        }
        let source = try #require(edge.server.context.registry.source("live/overflv"))
        #expect(source.publisher.protocolName == "pull")
        await edge.stop()
        await origin.stop()
    }

    @Test func anOnDemandPullConnectsOnlyForPlayers() async throws {
        let (origin, publisher) = try await TestServer.startPublishing("live/src")
        defer { publisher.terminate() }
        let edge = try await Self.startEdge()
        let added = try await Self.addPull(edge, #"{"stream": "live/lazy", "url": "\#(origin.rtmpURL("live/src"))", "on_demand": true}"#)
        #expect(added["state"]?.string == "idle" && added["on_demand"]?.bool == true, "\(added)")
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(await Self.players(origin, "live/src") == 0, "no pull before a player")
        #expect(try await Self.waitPull(edge, "live/lazy", seconds: 0.1) { _ in true }["attempts"]?.int == 0)

        try await FFprobe.expectStreams(edge.flvURL("live/lazy"), context: "the first player of an on-demand pull")
        #expect(await Self.players(origin, "live/src") == 1, "the edge pulls once")
        let idle = try await Self.waitPull(edge, "live/lazy", seconds: 10) { $0["state"]?.string == "idle" }
        #expect(idle["state"]?.string == "idle", "stops after on_demand_idle_ms without players: \(idle)")
        var released = false
        for _ in 0..<100 where !released {
            released = await Self.players(origin, "live/src") == 0
            if !released { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        #expect(released, "the origin's pull player left")
        // A second player starts it again.
        try await FFprobe.expectStreams(edge.flvURL("live/lazy"), context: "a player after the pull went idle")
        await edge.stop()
        await origin.stop()
    }

    @Test func reconnectsWhenTheOriginComesBack() async throws {
        let origin = try await TestServer.start(#""source": {"publisher_grace_ms": 0}"#)
        let media = try await TestMedia.shared.h264AACFLV()
        var publisher = try await origin.publishPlayable(media, stream: "live/src")
        defer { publisher.terminate() }
        let edge = try await Self.startEdge()
        try await Self.addPull(edge, #"{"stream": "live/again", "url": "\#(origin.rtmpURL("live/src"))"}"#)
        let first = try await Self.waitPull(edge, "live/again") { $0["state"]?.string == "playing" }
        #expect(first["state"]?.string == "playing", "\(first)")

        publisher.terminate()
        let lost = try await Self.waitPull(edge, "live/again") { $0["state"]?.string != "playing" }
        #expect(lost["last_error"]?.string != nil, "\(lost)")
        publisher = try await origin.publishPlayable(media, stream: "live/src")
        let back = try await Self.waitPull(edge, "live/again") {
            $0["state"]?.string == "playing" && ($0["reconnects"]?.int ?? 0) >= 1
        }
        #expect(back["state"]?.string == "playing" && (back["reconnects"]?.int ?? 0) >= 1, "\(back)")
        #expect(await edge.waitPlayable("live/again"))
        try await FFprobe.expectStreams(edge.flvURL("live/again"), context: "after the origin came back")
        await edge.stop()
        await origin.stop()
    }

    @Test func staticPullsStartAtBoot() async throws {
        let (origin, publisher) = try await TestServer.startPublishing("live/src")
        defer { publisher.terminate() }
        let edge = try await Self.startEdge(#"{"stream": "live/static", "url": "\#(origin.rtmpURL("live/src"))"}"#)
        let state = try await Self.waitPull(edge, "live/static") { $0["state"]?.string == "playing" }
        #expect(state["state"]?.string == "playing", "\(state)")
        let stats = try await AdminHTTP(port: edge.adminPort).get("/api/v1/stats").value
        #expect(stats["pulls"]?["total"]?.int == 1 && stats["pulls"]?["playing"]?.int == 1, "\(stats)")
        await edge.stop()
        await origin.stop()
    }

    @Test func badRequestsAreRefused() async throws {
        let edge = try await Self.startEdge()
        let admin = AdminHTTP(port: edge.adminPort)
        let noStream = try await admin.post("/api/v1/pulls", json: #"{"url": "rtmp://127.0.0.1/live/x"}"#)
        #expect(noStream.status == 400, "\(noStream.text)")
        let badURL = try await admin.post("/api/v1/pulls", json: #"{"stream": "live/x", "url": "ftp://h/x"}"#)
        #expect(badURL.status == 400, "\(badURL.text)")
        try await Self.addPull(edge, #"{"stream": "live/x", "url": "rtmp://127.0.0.1:9/live/x"}"#)
        let twice = try await admin.post("/api/v1/pulls", json: #"{"stream": "live/x", "url": "rtmp://127.0.0.1:9/live/y"}"#)
        #expect(twice.status == 409, "\(twice.text)")
        // Nothing listens on port 9: the pull retries and says why.
        let failing = try await Self.waitPull(edge, "live/x") { $0["last_error"]?.string != nil }
        #expect(failing["last_error"]?.string?.contains("connect") == true, "\(failing)")
        await edge.stop()
    }

    // MARK: - RTSP cameras (GStreamer's RTSP server)

    /// ffprobe over the relay's HTTP-FLV sees the camera's H.264 320x240 and its AAC.
    static func expectCameraStreams(_ server: TestServer, _ stream: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let r = try await FFprobe.run(server.flvURL(stream))
        #expect(r.status == 0, "ffprobe \(stream): \(r.err)", sourceLocation: sourceLocation)
        #expect(r.out.contains("codec_name=h264|width=320|height=240"), "\(stream): \(r.out)", sourceLocation: sourceLocation)
        #expect(r.out.contains("codec_name=aac|sample_rate=48000"), "\(stream): \(r.out)", sourceLocation: sourceLocation)
    }

    @Test func pullsAnRTSPCameraWithDigestOverTCPAndUDP() async throws {
        let camera = try await RTSPCamera.start(user: "admin", password: "s3cret+1")
        defer { camera.stop() }
        let edge = try await Self.startEdge()
        try await Self.addPull(edge, #"{"stream": "cam/tcp", "url": "\#(camera.url())", "transport": "tcp"}"#)
        try await Self.addPull(edge, #"{"stream": "cam/udp", "url": "\#(camera.url())", "transport": "udp"}"#)
        for stream in ["cam/tcp", "cam/udp"] {
            let state = try await Self.waitPull(edge, stream) { $0["state"]?.string == "playing" }
            #expect(state["state"]?.string == "playing", "\(stream): \(state) \(camera.log.suffix(1000))")
            #expect(state["url"]?.string == "rtsp://127.0.0.1:\(camera.port)/cam", "credentials are not shown")
            #expect(await edge.waitPlayable(stream), "\(stream)")
            try await Self.expectCameraStreams(edge, stream)
        }
        await edge.stop()
    }

    @Test func waitsForACameraThatComesUpLaterAndFollowsItsRestart() async throws {
        let camera = try await RTSPCamera.stopped(user: "admin", password: "pw")
        defer { camera.stop() }
        let edge = try await Self.startEdge()
        try await Self.addPull(edge, #"{"stream": "cam/late", "url": "\#(camera.url())"}"#)
        let waiting = try await Self.waitPull(edge, "cam/late") { $0["last_error"]?.string != nil }
        #expect(waiting["state"]?.string != "playing" && waiting["last_error"]?.string != nil, "\(waiting)")

        try await camera.start()
        let playing = try await Self.waitPull(edge, "cam/late") { $0["state"]?.string == "playing" }
        #expect(playing["state"]?.string == "playing", "\(playing)")
        #expect(await edge.waitPlayable("cam/late"))
        try await Self.expectCameraStreams(edge, "cam/late")
        let before = playing["reconnects"]?.int ?? 0

        try await camera.restart()
        let again = try await Self.waitPull(edge, "cam/late") {
            $0["state"]?.string == "playing" && ($0["reconnects"]?.int ?? 0) > before
        }
        #expect(again["state"]?.string == "playing" && (again["reconnects"]?.int ?? 0) > before, "\(again)")
        #expect(await edge.waitPlayable("cam/late"))
        try await Self.expectCameraStreams(edge, "cam/late")
        await edge.stop()
    }
}
