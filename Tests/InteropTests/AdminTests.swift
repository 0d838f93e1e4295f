import Foundation
import NIOCore
import NIOPosix
import RelayAdmin
import RelayBenchKit
import RelayCore
import RelayServer
import Testing

/// The admin REST API over real HTTP: a live ffmpeg publisher and real players, GB28181 ports,
/// the bearer token, bad input; answers checked against openapi.yaml.
@Suite(.serialized)
struct AdminTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// The API's spec, a server with these `admin` settings, and a client of its admin listener.
    static func adminServer(admin: String = "") async throws -> (OpenAPISpec, TestServer, AdminHTTP) {
        let server = try await TestServer.start(admin: admin)
        return (try OpenAPISpec.load(), server, AdminHTTP(port: server.adminPort))
    }

    /// Checks an answer against the spec's schema for that operation and status.
    static func conforms(_ spec: OpenAPISpec, _ method: String, _ path: String, _ r: AdminHTTP.Response,
                         sourceLocation: SourceLocation = #_sourceLocation) {
        guard let schema = spec.responseSchema(method, path, status: r.status) else {
            Issue.record("openapi.yaml documents no JSON answer \(r.status) for \(method) \(path): \(r.text)", sourceLocation: sourceLocation)
            return
        }
        #expect(r.headers["content-type"]?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
        guard let value = r.json else {
            Issue.record("\(method) \(path) \(r.status): not JSON: \(r.text)", sourceLocation: sourceLocation)
            return
        }
        let problems = spec.validate(value, against: schema)
        #expect(problems.isEmpty, "\(method) \(path) \(r.status): \(problems.joined(separator: "; "))", sourceLocation: sourceLocation)
    }

    /// The value of one series in `/metrics` (0 when absent).
    static func metric(_ api: AdminHTTP, _ series: String) async throws -> Double {
        let text = try await api.get("/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }

    @Test func liveStreamPlayersKickAndClose() async throws {
        let (spec, server, api) = try await Self.adminServer()
        #expect(server.adminPort > 0)
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/admin")
        defer { publisher.terminate() }

        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/admin.flv", group: Self.group)
        let rtmp = try await RTMPPlayer.connect(url: server.rtmpURL("live/admin"), group: Self.group)
        #expect(await flv.wait(timeout: .seconds(10)) { $0.videoFrames > 5 }.videoFrames > 5)
        #expect(await rtmp.wait(timeout: .seconds(10)) { $0.videoFrames > 5 }.videoFrames > 5)
        // A full second of rates, and a complete GOP (key frames every 50 frames, 2 s).
        for _ in 0..<100 {
            let s = try await api.get("/api/v1/streams/live/admin").value
            if (s["uptime_seconds"]?.double ?? 0) > 4.5 { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }

        // The stream, its tracks and its players by protocol.
        let list = try await api.get("/api/v1/streams")
        #expect(list.status == 200)
        Self.conforms(spec, "GET", "/api/v1/streams", list)
        let streams = list.value["streams"]?.items ?? []
        #expect(list.value["count"]?.int == 1)
        let stream = try #require(streams.first { $0["id"]?.string == "live/admin" }, "\(list.text)")
        #expect(stream["ready"]?.bool == true)
        #expect(stream["publisher"]?["protocol"]?.string == "rtmp")
        #expect(stream["publisher"]?["address"]?.string?.hasPrefix("127.0.0.1:") == true)
        let tracks = stream["tracks"]?.items ?? []
        let video = try #require(tracks.first { $0["kind"]?.string == "video" }, "\(tracks)")
        #expect(video["codec"]?.string == "h264")
        #expect(video["width"]?.int == 1280)
        #expect(video["height"]?.int == 720)
        #expect((video["fps"]?.double ?? 0) > 5, "\(video)")
        #expect(video["gop_frames"]?.int == 50, "\(video) \(list.text)")
        let audio = try #require(tracks.first { $0["kind"]?.string == "audio" }, "\(tracks)")
        #expect(audio["codec"]?.string == "aac")
        #expect(audio["sample_rate"]?.int == 44100)
        #expect(audio["channels"]?.int == 2)
        #expect(stream["players"]?["total"]?.int == 2)
        #expect(stream["players"]?["by_protocol"]?["rtmp"]?.int == 1)
        #expect(stream["players"]?["by_protocol"]?["flv"]?.int == 1)
        // One output per kind with a player; one player each: every packet at once (window 0).
        let outputs = stream["outputs"]?.items ?? []
        #expect(outputs.map { $0["output"]?.string } == ["flv", "rtmp"], "\(outputs)")
        #expect(outputs.allSatisfy { $0["sinks"]?.int == 1 && $0["merge_window_ms"]?.int == 0 }, "\(outputs)")
        #expect((stream["bitrate_in_bps"]?.double ?? 0) > 10_000, "\(stream)")
        #expect((stream["bitrate_out_bps"]?.double ?? 0) > (stream["bitrate_in_bps"]?.double ?? 0))
        #expect((stream["bytes_out"]?.int ?? 0) > 0)

        // The same stream by id, with its slash literal or %2F-encoded.
        for path in ["/api/v1/streams/live/admin", "/api/v1/streams/live%2Fadmin"] {
            let one = try await api.get(path)
            #expect(one.status == 200, "\(path): \(one.text)")
            Self.conforms(spec, "GET", "/api/v1/streams/{stream}", one)
            #expect(one.value["id"]?.string == "live/admin")
        }

        // Players of the stream.
        let players = try await api.get("/api/v1/players?stream=live/admin")
        #expect(players.status == 200)
        Self.conforms(spec, "GET", "/api/v1/players", players)
        let items = players.value["players"]?.items ?? []
        #expect(items.count == 2, "\(players.text)")
        #expect(Set(items.compactMap { $0["protocol"]?.string }) == ["rtmp", "flv"])
        #expect(items.allSatisfy { ($0["bytes_sent"]?.int ?? 0) > 0 && $0["address"]?.string?.hasPrefix("127.0.0.1:") == true })
        let flvID = try #require(items.first { $0["protocol"]?.string == "flv" }?["id"]?.int)
        let one = try await api.get("/api/v1/players/\(flvID)")
        #expect(one.status == 200)
        Self.conforms(spec, "GET", "/api/v1/players/{id}", one)

        // Stats and server info.
        let stats = try await api.get("/api/v1/stats")
        #expect(stats.status == 200)
        Self.conforms(spec, "GET", "/api/v1/stats", stats)
        #expect(stats.value["connections"]?["total"]?.int == 3)
        #expect((stats.value["bytes_in"]?["by_protocol"]?["rtmp"]?.int ?? 0) > 0)
        #expect((stats.value["bytes_out"]?["by_protocol"]?["flv"]?.int ?? 0) > 0)
        #expect((stats.value["process"]?["rss_bytes"]?.int ?? 0) > 0)
        #expect((stats.value["process"]?["cpu_seconds"]?.double ?? 0) > 0)
        let info = try await api.get("/api/v1/server")
        #expect(info.status == 200)
        Self.conforms(spec, "GET", "/api/v1/server", info)
        let listeners = info.value["listeners"]?.items ?? []
        #expect(listeners.contains { $0["name"]?.string == "rtmp" && $0["port"]?.int == server.rtmpPort })
        #expect(listeners.contains { $0["name"]?.string == "admin" && $0["port"]?.int == server.adminPort })

        // Metrics, computed at scrape time.
        let metrics = try await api.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(metrics.text.contains("relay_streams 1.0\n"), "\(metrics.text)")
        #expect(metrics.text.contains(#"relay_players{protocol="flv"} 1.0"#))
        #expect(metrics.text.contains(#"relay_players{protocol="rtmp"} 1.0"#))
        #expect(metrics.text.contains(#"relay_bytes_in_total{protocol="rtmp"}"#))
        #expect(metrics.text.contains(#"relay_parse_errors_total{protocol="rtmp"}"#))

        // Kicking the HTTP-FLV player closes its connection; the RTMP player goes on.
        let kicked = try await api.delete("/api/v1/players/\(flvID)")
        #expect(kicked.status == 200, "\(kicked.text)")
        Self.conforms(spec, "DELETE", "/api/v1/players/{id}", kicked)
        #expect(await flv.wait(timeout: .seconds(5)) { $0.closed }.closed)
        let framesBefore = rtmp.stats.videoFrames
        #expect(await rtmp.wait(timeout: .seconds(5)) { $0.videoFrames > framesBefore + 5 }.closed == false)
        let again = try await api.delete("/api/v1/players/\(flvID)")
        #expect(again.status == 404)
        Self.conforms(spec, "DELETE", "/api/v1/players/{id}", again)
        var left: [JSONValue] = []
        for _ in 0..<50 {
            left = try await api.get("/api/v1/players?stream=live%2Fadmin").value["players"]?.items ?? []
            if left.count == 1 { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(left.count == 1 && left.first?["protocol"]?.string == "rtmp", "\(left)")

        // Closing the stream hangs up on the publisher: ffmpeg exits; the RTMP player ends too.
        let closed = try await api.delete("/api/v1/streams/live/admin")
        #expect(closed.status == 200, "\(closed.text)")
        Self.conforms(spec, "DELETE", "/api/v1/streams/{stream}", closed)
        let status = await publisher.wait(seconds: 10)
        #expect(status != nil, "ffmpeg still running 10 s after the stream was closed")
        #expect(await rtmp.wait(timeout: .seconds(5)) { $0.closed }.closed)
        let gone = try await api.get("/api/v1/streams/live/admin")
        #expect(gone.status == 404)
        Self.conforms(spec, "GET", "/api/v1/streams/{stream}", gone)
        let totals = try await api.get("/api/v1/stats")
        #expect((totals.value["bytes_out"]?["by_protocol"]?["flv"]?.int ?? 0) > 0, "departed players keep their bytes: \(totals.text)")
        await flv.close()
        await rtmp.close()
        await server.stop()
    }

    /// RTSP players are players like the others: listed with protocol `rtsp` and growing bytes over
    /// TCP and UDP, and kicked — ffmpeg over TCP loses its connection, ffmpeg over UDP gets an RTCP
    /// BYE and its session ends — while another RTSP player of the same stream keeps playing.
    @Test func rtspPlayersAreListedAndKickedOverTCPAndUDP() async throws {
        let (spec, server, api) = try await Self.adminServer()
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/rtspadmin")
        defer { publisher.terminate() }
        let url = server.rtspURL("live/rtspadmin")

        /// The stream's players, polled until `count` are listed.
        func players(_ count: Int) async throws -> [JSONValue] {
            var items: [JSONValue] = []
            for _ in 0..<100 {
                let r = try await api.get("/api/v1/players?stream=live/rtspadmin")
                Self.conforms(spec, "GET", "/api/v1/players", r)
                items = r.value["players"]?.items ?? []
                if items.count == count { break }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            return items
        }
        func ffmpeg(_ transport: String) throws -> ChildProcess {
            try ChildProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rtsp_transport", transport, "-i", url,
                                        "-c", "copy", "-f", "null", "-"])
        }
        // Started one by one, so the ids (increasing) tell them apart.
        let tcp = try ffmpeg("tcp")
        defer { tcp.terminate() }
        let tcpID = try #require(try await players(1).first?["id"]?.int)
        let udp = try ffmpeg("udp")
        defer { udp.terminate() }
        let udpID = try #require(try await players(2).compactMap { $0["id"]?.int }.first { $0 != tcpID })
        let other = try await RTSPPlayer.connect(url: url, group: Self.group)
        let listed = try await players(3)
        #expect(listed.count == 3, "\(listed)")
        #expect(listed.allSatisfy { $0["protocol"]?.string == "rtsp" && $0["kind"]?.string?.hasPrefix("rtsp") == true }, "\(listed)")
        #expect(listed.allSatisfy { $0["address"]?.string?.hasPrefix("127.0.0.1:") == true && $0["session_id"]?.string != nil })
        let before = Dictionary(uniqueKeysWithValues: listed.compactMap { p in p["id"]?.int.map { ($0, p["bytes_sent"]?.int ?? 0) } })
        try await Task.sleep(nanoseconds: 1_000_000_000)
        for id in [tcpID, udpID] {
            let one = try await api.get("/api/v1/players/\(id)")
            #expect(one.status == 200, "\(one.text)")
            Self.conforms(spec, "GET", "/api/v1/players/{id}", one)
            #expect((one.value["bytes_sent"]?.int ?? 0) > (before[id] ?? 0) && (before[id] ?? 0) > 0, "bytes not growing: \(before) \(one.text)")
            #expect((one.value["seconds"]?.double ?? 0) > 0.5)
        }
        let stream = try await api.get("/api/v1/streams/live/rtspadmin")
        #expect(stream.value["players"]?["by_protocol"]?["rtsp"]?.int == 3, "\(stream.text)")
        #expect(try await api.get("/api/v1/stats").value["connections"]?["by_protocol"]?["rtsp"]?.int == 3)

        // Kicks: each ffmpeg ends on its own; the third player goes on.
        for (id, process, transport) in [(tcpID, tcp, "tcp"), (udpID, udp, "udp")] {
            let kicked = try await api.delete("/api/v1/players/\(id)")
            #expect(kicked.status == 200, "kick over \(transport): \(kicked.status) \(kicked.text)")
            Self.conforms(spec, "DELETE", "/api/v1/players/{id}", kicked)
            #expect(kicked.value["kicked"]?.bool == true)
            let status = await process.wait(seconds: 5)
            #expect(status != nil, "ffmpeg over \(transport) still playing 5 s after the kick")
        }
        let left = try await players(1)
        #expect(left.count == 1 && left.first?["id"]?.int != tcpID && left.first?["id"]?.int != udpID, "\(left)")
        #expect(try await api.get("/api/v1/players/\(tcpID)").status == 404)
        #expect(try await api.delete("/api/v1/players/\(udpID)").status == 404)
        let frames = other.stats.videoFrames
        var now = other.stats
        for _ in 0..<100 where now.videoFrames < frames + 10 && !now.closed {
            try await Task.sleep(nanoseconds: 50_000_000)
            now = other.stats
        }
        #expect(!now.closed && now.videoFrames >= frames + 10 && now.error == nil, "other RTSP player: \(now.videoFrames - frames) frames, closed \(now.closed), \(now.error ?? "")")
        await other.close()
        await server.stop()
    }

    @Test func gb28181ReceiversOpenCountAndClose() async throws {
        let (spec, server, api) = try await Self.adminServer()

        let opened = try await api.post("/api/v1/gb28181/receivers",
                                        json: #"{"stream": "gb/cam1", "ssrc": "0100000001", "port": "auto"}"#)
        #expect(opened.status == 201, "\(opened.text)")
        Self.conforms(spec, "POST", "/api/v1/gb28181/receivers", opened)
        let port = try #require(opened.value["port"]?.int)
        #expect(port > 0)
        #expect(opened.value["ssrc"]?.string == "0100000001")
        #expect(opened.value["ip"]?.string == "127.0.0.1")
        #expect(opened.value["state"]?.string == "waiting")
        #expect(opened.value["mode"]?.string == "udp")

        // Conflicts: same stream, same SSRC.
        let dup = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "gb/cam1", "ssrc": "0100000002", "port": "auto"}"#)
        #expect(dup.status == 409, "\(dup.text)")
        Self.conforms(spec, "POST", "/api/v1/gb28181/receivers", dup)
        let dupSSRC = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "gb/cam2", "ssrc": "0100000001"}"#)
        #expect(dupSSRC.status == 409, "\(dupSSRC.text)")

        // A shared-port receiver and a tcp-passive one on a port of its own.
        let shared = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "gb/cam3", "ssrc": "0100000003"}"#)
        #expect(shared.status == 201, "\(shared.text)")
        #expect(shared.value["shared_port"]?.bool == true)
        #expect(shared.value["port"]?.int == server.server.gb28181.sharedUDPPort)
        let tcp = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "gb/cam4", "mode": "tcp-passive", "port": "auto"}"#)
        #expect(tcp.status == 201, "\(tcp.text)")
        let tcpPort = try #require(tcp.value["port"]?.int)
        let conn = try await RawConnection.connect(port: tcpPort)  // the TCP port really listens
        await conn.close()

        // RTP datagrams to the receiver's port are counted; its stream appears.
        let udp = try await DatagramBootstrap(group: Self.group).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        for seq in 0..<3 {
            var rtp = ByteBuffer()
            rtp.writeInteger(UInt8(0x80))
            rtp.writeInteger(UInt8(96))
            rtp.writeInteger(UInt16(seq))
            rtp.writeInteger(UInt32(3600 * seq))
            rtp.writeInteger(UInt32(100_000_001))
            try await udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: rtp))
        }
        var receiver = JSONValue.null
        for _ in 0..<100 {
            let r = try await api.get("/api/v1/gb28181/receivers/gb/cam1")
            Self.conforms(spec, "GET", "/api/v1/gb28181/receivers/{stream}", r)
            receiver = r.value
            if receiver["packets"]?.int == 3 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(receiver["packets"]?.int == 3, "\(receiver)")
        // A datagram that is not RTP counts as a GB28181 parse error in /metrics.
        let before = try await Self.metric(api, #"relay_parse_errors_total{protocol="gb28181"}"#)
        try await udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: "junk")))
        var after = before
        for _ in 0..<100 where after == before {
            try await Task.sleep(nanoseconds: 20_000_000)
            after = try await Self.metric(api, #"relay_parse_errors_total{protocol="gb28181"}"#)
        }
        #expect(after >= before + 1, "parse errors \(before) → \(after)")  // process-wide: other suites may add
        #expect(receiver["state"]?.string == "receiving", "\(receiver)")
        #expect(receiver["remote_address"]?.string?.hasPrefix("127.0.0.1:") == true)
        let all = try await api.get("/api/v1/gb28181/receivers")
        #expect(all.status == 200)
        Self.conforms(spec, "GET", "/api/v1/gb28181/receivers", all)
        #expect(all.value["count"]?.int == 3)
        #expect(server.server.context.registry.source("gb/cam1") != nil)

        // Closing frees the port (we can bind it ourselves) and ends its stream.
        let closed = try await api.delete("/api/v1/gb28181/receivers/gb%2Fcam1")
        #expect(closed.status == 200, "\(closed.text)")
        Self.conforms(spec, "DELETE", "/api/v1/gb28181/receivers/{stream}", closed)
        #expect(try await api.get("/api/v1/gb28181/receivers/gb/cam1").status == 404)
        #expect(try await api.delete("/api/v1/gb28181/receivers/gb/cam1").status == 404)
        let rebound = try await DatagramBootstrap(group: Self.group).bind(host: "127.0.0.1", port: port).get()
        try await rebound.close()
        var stillThere = true
        for _ in 0..<50 where stillThere {
            stillThere = server.server.context.registry.source("gb/cam1") != nil
            if stillThere { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        #expect(!stillThere)
        let tcpClosed = try await api.delete("/api/v1/gb28181/receivers/gb/cam4")
        #expect(tcpClosed.status == 200)
        await #expect(throws: (any Error).self) { _ = try await RawConnection.connect(port: tcpPort) }

        // Bad input: each answered 400 with a message.
        for body in [#"{"stream": "gb/x", "mode": "carrier-pigeon"}"#, #"{"stream": "../x"}"#, #"{"ssrc": "1"}"#,
                     #"{"stream": "gb/x", "ssrc": "99999999999"}"#, #"{"stream": "gb/x", "ssrc": 5}"#,
                     #"{"stream": "gb/x", "port": "shared"}"#, #"{"stream": "gb/x", "mode": "tcp-active", "port": "shared"}"#,
                     #"{"stream": "gb/x", "mode": "tcp-active", "device": "nowhere"}"#,
                     #"{"stream": "gb/x", "port": 70000}"#, #"{"stream": "gb/x", "colour": "red"}"#,
                     #"{"stream": "gb/x""#, "[1, 2]", ""] {
            let r = try await api.post("/api/v1/gb28181/receivers", json: body)
            #expect(r.status == 400, "\(body): \(r.status) \(r.text)")
            Self.conforms(spec, "POST", "/api/v1/gb28181/receivers", r)
            #expect(r.value["error"]?.string?.isEmpty == false)
        }
        try? await udp.close()
        await server.stop()
    }

    @Test func badInputAndStatusCodes() async throws {
        let (spec, server, api) = try await Self.adminServer(admin: ", \"max_body_bytes\": 2048")

        let big = "{\"on_publish\": \"http://127.0.0.1:9/" + String(repeating: "x", count: 4000) + "\"}"
        let tooLarge = try await api.post("/api/v1/hooks/reload", json: big)
        #expect(tooLarge.status == 413, "\(tooLarge.text)")
        Self.conforms(spec, "POST", "/api/v1/hooks/reload", tooLarge)
        // Chunked, without a Content-Length: still bounded.
        let chunk = String(repeating: "y", count: 3000)
        let chunked = try await api.request("POST", "/api/v1/hooks/reload",
                                             body: Array("\(String(chunk.utf8.count, radix: 16))\r\n\(chunk)\r\n0\r\n\r\n".utf8),
                                             headers: ["Transfer-Encoding": "chunked", "Content-Type": "application/json"])
        #expect(chunked.status == 413 || chunked.status == 400, "\(chunked.status) \(chunked.text)")

        let badJSON = try await api.post("/api/v1/hooks/reload", json: "{\"on_publish\": ")
        #expect(badJSON.status == 400)
        Self.conforms(spec, "POST", "/api/v1/hooks/reload", badJSON)
        let badHook = try await api.post("/api/v1/hooks/reload", json: #"{"on_publish": "ftp://x"}"#)
        #expect(badHook.status == 400)
        #expect(badHook.value["error"]?.string?.contains("hooks.on_publish") == true, "\(badHook.text)")
        let noFile = try await api.post("/api/v1/hooks/reload", json: nil)
        #expect(noFile.status == 409, "started without a config file: \(noFile.text)")

        // Hooks reload takes effect: the server info lists the configured events.
        let reloaded = try await api.post("/api/v1/hooks/reload", json: #"{"on_play": "http://127.0.0.1:9/play", "timeout_ms": 100}"#)
        #expect(reloaded.status == 200, "\(reloaded.text)")
        Self.conforms(spec, "POST", "/api/v1/hooks/reload", reloaded)
        #expect(reloaded.value["hooks"]?.items.compactMap(\.string) == ["on_play"])
        #expect(server.server.context.hasHook(.play))
        #expect(try await api.get("/api/v1/server").value["config"]?["hooks"]?.items.compactMap(\.string) == ["on_play"])
        _ = try await api.post("/api/v1/hooks/reload", json: "{}")
        #expect(!server.server.context.hasHook(.play))

        // 404s, 400s, 405.
        for (path, status) in [("/api/v1/streams/live/none", 404), ("/api/v1/streams/live/../x", 400),
                               ("/api/v1/streams/live%2", 400), ("/api/v1/players/abc", 400), ("/api/v1/players/-1", 400),
                               ("/api/v1/players/123456", 404), ("/api/v1/players?stream=no/such", 404),
                               ("/api/v1/players?stream=bad%20id", 400), ("/api/v1/nothing", 404)] {
            let r = try await api.get(path)
            #expect(r.status == status, "\(path): \(r.status) \(r.text)")
            #expect(r.headers["content-type"]?.hasPrefix("application/json") == true, "\(path)")
            #expect(r.value["status"]?.int == status, "\(path): \(r.text)")
        }
        let wrongMethod = try await api.request("PUT", "/api/v1/streams")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers["allow"]?.contains("GET") == true)
        let players = try await api.get("/api/v1/players")
        #expect(players.status == 200)
        Self.conforms(spec, "GET", "/api/v1/players", players)
        await server.stop()
    }

    @Test func tokenIsRequiredOnEveryEndpoint() async throws {
        let server = try await TestServer.start(admin: ", \"token\": \"s3cret-token\"")
        let anonymous = AdminHTTP(port: server.adminPort)
        let wrong = AdminHTTP(port: server.adminPort, token: "s3cret-tokem")
        let authorized = AdminHTTP(port: server.adminPort, token: "s3cret-token")
        let routes = RelayServer.adminRoutes
        #expect(routes.count >= 14)
        for route in routes {
            let path = route.path.replacingOccurrences(of: "{stream}", with: "live/x").replacingOccurrences(of: "{id}", with: "1")
            for client in [anonymous, wrong] {
                let body: [UInt8]? = route.method == "POST" ? Array("{}".utf8) : nil
                let r = try await client.request(route.method, path, body: body)
                #expect(r.status == 401, "\(route.method) \(path) without the right token: \(r.status) \(r.text)")
                #expect(r.value["status"]?.int == 401)
                #expect(r.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            }
        }
        #expect(try await anonymous.get("/api/v1/no/such/path").status == 401)
        #expect(try await authorized.get("/api/v1/server").status == 200)
        #expect(try await authorized.get("/metrics").status == 200)
        let lower = try await anonymous.request("GET", "/api/v1/stats", headers: ["Authorization": "bearer s3cret-token"])
        #expect(lower.status == 200)
        await server.stop()
    }

    /// Latency of `GET /api/v1/streams` with 200 live sources (made directly in the registry, each
    /// with an H.264 track and a key frame; no ffmpeg): one new connection per request, as curl does.
    @Test func streamsListLatencyWith200Streams() async throws {
        let server = try await TestServer.start("\"source\": {\"receive_timeout_ms\": 0, \"idle_timeout_ms\": 0}")
        let context = server.server.context
        let began = NIODeadline.now()
        var sps = ByteBuffer()
        sps.writeBytes([0x67, 0x64, 0x00, 0x1F])
        for i in 0..<200 {
            let loop = server.server.group.next()
            let info = SessionInfo(sessionID: "bench\(i)", protocolName: "rtmp", remoteAddress: "127.0.0.1:\(20000 + i)")
            let source = Source(id: "bench/s\(i)", eventLoop: loop, publisher: info, context: context)
            try context.registry.register(source)
            let track = AVStream(index: 0, codec: .h264, timebase: 1000, extradata: ByteBuffer(bytes: [1, 0x64, 0, 0x1F, 0xFF]),
                                 video: VideoParameters(width: 1280, height: 720, profile: 100, level: 31, sps: [sps], pps: [sps]))
            await source.expectTracks(video: true, audio: false)
            await source.updateStream(track)
            await source.write(AVPacket(streamIndex: 0, codec: .h264, dts: 0, pts: 0, isKeyFrame: true,
                                        payload: ByteBuffer(bytes: [0, 0, 0, 1, 0x65])))
        }
        let made = NIODeadline.now()
        let api = AdminHTTP(port: server.adminPort)
        for _ in 0..<10 { _ = try await api.get("/api/v1/streams") }
        var ms: [Double] = []
        for _ in 0..<200 {
            let start = NIODeadline.now()
            let r = try await api.get("/api/v1/streams")
            ms.append(Double((NIODeadline.now() - start).nanoseconds) / 1e6)
            #expect(r.status == 200)
            #expect(r.text.hasPrefix("{\"count\":200,"))
        }
        let p50 = try #require(percentile(ms, 50)), p99 = try #require(percentile(ms, 99))
        print("admin streams list, 200 streams: p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms (200 requests; sources made in \((made - began).nanoseconds / 1_000_000) ms)")
        #expect(p99 < 1000, "p99 \(p99) ms")
        let last = try await api.get("/api/v1/streams")
        #expect(last.value["count"]?.int == 200)
        #expect(last.value["streams"]?.items.allSatisfy { $0["ready"]?.bool == true } == true)
        await server.stop()
    }

    /// Every route the server registers is in openapi.yaml and every documented operation is served.
    @Test func openAPIDocumentsEveryRoute() throws {
        let spec = try OpenAPISpec.load()
        let served = Set(RelayServer.adminRoutes.map { "\($0.method) \($0.path)" })
        #expect(served == spec.operations, "served but not documented: \(served.subtracting(spec.operations).sorted()); documented but not served: \(spec.operations.subtracting(served).sorted())")
        #expect(spec.root["openapi"] as? String == "3.1.0")
        // Every schema a $ref names exists.
        let text = try String(contentsOfFile: OpenAPISpec.path, encoding: .utf8)
        let refs = text.components(separatedBy: "#/components/schemas/").dropFirst().map { $0.prefix { $0.isLetter || $0.isNumber } }
        for ref in Set(refs) { #expect(spec.schema(named: String(ref)) != nil, "missing schema \(ref)") }
    }
}
