import Foundation
import RelayCore
import Testing

/// WebRTC with a real browser: headless Chromium plays RTMP-published streams over WHEP from the
/// console's preview (`via=webrtc`), and publishes its fake camera and microphone over WHIP from
/// the console's publish page, which ffprobe then reads back over RTMP and RTSP.
/// (Support/BrowserConsole.swift drives the page over the DevTools protocol.)
@Suite(.serialized)
struct WebRTCBrowserTests {
    static let media = MediaCache("webrtc")

    /// 720p25 H.264 as libx264 makes it by default (High: CABAC, 8x8 transforms; no B-frames,
    /// which WebRTC does not carry) + AAC, FLV. Chromium offers no High profile-level-id, so the
    /// relay's answer must still give the browser a stream it decodes.
    static func h264HighAAC() async throws -> String {
        try await media.make("h264_high_aac_720p.flv", [
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", "12", "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
            "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-b:v", "2M", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "44100", "-f", "flv",
        ])
    }

    /// The WHEP preview played: frames decoded and growing for `seconds`, H.264 negotiated, no
    /// page errors, and the session ended by the page's DELETE when the preview stopped.
    static func expectPlayed(_ run: BrowserConsole, seconds: Double = 2, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.listed, "the stream list shows the stream: \(run.json)", sourceLocation: sourceLocation)
        #expect(run.answerToFirstFrameMs != nil, "a first frame after the answer: \(run.json)", sourceLocation: sourceLocation)
        #expect(run.codecs.hasPrefix("H264"), "H.264 negotiated: \(run.json)", sourceLocation: sourceLocation)
        let f = run.frames
        // 25 fps for `seconds`: well over half of those frames decoded.
        #expect(f.count == 2 && f[1] - f[0] >= Int(seconds * 12), "framesDecoded grows: \(run.json)", sourceLocation: sourceLocation)
        #expect(run.errors.isEmpty, "page errors: \(run.errors)", sourceLocation: sourceLocation)
        expectSession(run, sourceLocation: sourceLocation)
    }

    /// The page's WHEP/WHIP requests: the offer answered 201, the session's DELETE 200.
    static func expectSession(_ run: BrowserConsole, sourceLocation: SourceLocation = #_sourceLocation) {
        let requests = run.webrtcRequests
        #expect(requests.contains { $0.method == "POST" && $0.status == 201 }, "offer answered: \(requests)", sourceLocation: sourceLocation)
        #expect(requests.contains { $0.method == "DELETE" && $0.status == 200 }, "session deleted: \(requests)",
                sourceLocation: sourceLocation)
    }

    /// Waits until `path`'s JSON list `key` satisfies `done` (up to `seconds`).
    static func waitList(_ server: TestServer, _ path: String, _ key: String, seconds: Double = 5,
                         until done: ([JSONValue]) -> Bool) async throws -> [JSONValue] {
        let api = AdminHTTP(port: server.adminPort)
        let deadline = Date().addingTimeInterval(seconds)
        var items: [JSONValue] = []
        repeat {
            items = try await api.get(path).value[key]?.items ?? []
            if done(items) { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        } while Date() < deadline
        return items
    }

    @Test func whepPlaysAnRTMPStreamOfH264HighAndAAC() async throws {
        let stream = "live/whep-high"
        let file = try await Self.h264HighAAC()
        let probe = try await FFprobe.run(file, entries: "stream=codec_name,profile")
        #expect(probe.out.contains("codec_name=h264|profile=High"), "the clip is High profile: \(probe.out)")
        let server = try await TestServer.start()
        let publisher = try await server.publishPlayable(file, stream: stream)
        defer { publisher.terminate() }
        async let played = BrowserConsole.open(BrowserTests.consoleURL(server, stream, via: "webrtc"), stream: stream)
        let players = try await BrowserTests.listedPlayer(server, stream)
        let run = try await played
        Self.expectPlayed(run)
        #expect(players == ["webrtc"], "the preview's player: \(players)")
        let left = try await Self.waitList(server, "/api/v1/players?stream=\(stream)", "players") { $0.isEmpty }
        #expect(left.isEmpty, "the DELETE ended the player: \(left)")
        print("WHEP answer -> first frame (H.264 High + AAC over RTMP): \(run.answerToFirstFrameMs.map { String($0) } ?? "none") ms; codecs \(run.codecs)")
        await server.stop()
    }

    @Test func whepPlaysH264WithG711Audio() async throws {
        let stream = "live/whep-g711"
        let server = try await TestServer.start()
        let publisher = try await server.publishPlayable(try await TestMedia.shared.h264G711FLV(), stream: stream)
        defer { publisher.terminate() }
        let run = try await BrowserConsole.open(BrowserTests.consoleURL(server, stream, via: "webrtc"), stream: stream)
        Self.expectPlayed(run)
        #expect(run.codecs.contains("PCMA"), "G.711 A-law passed through: \(run.codecs)")
        let audio = run.audioPackets
        // 8 kHz G.711 in 20 ms packets: ~50 a second.
        #expect(audio.count == 2 && audio[1] > audio[0] && audio[1] > 0, "audio packetsReceived grows: \(run.json)")
        print("WHEP answer -> first frame (H.264 + G.711): \(run.answerToFirstFrameMs.map { String($0) } ?? "none") ms")
        await server.stop()
    }

    /// H.265: headless Chromium on Linux receives no H.265 over WebRTC; the page says so and stops
    /// (no reconnecting). A browser that has it plays.
    @Test func anH265StreamOverWebRTCIsRefusedByThePage() async throws {
        let stream = "live/whep-hevc"
        let server = try await TestServer.start()
        let camera = try ProductBinary.camera.start([
            "--input", try await CameraMedia.shared.h265(), "--audio", try await CameraMedia.shared.aac(),
            "--url", server.rtmpURL(stream), "--loop", "--quiet",
        ])
        defer { camera.terminate() }
        #expect(await server.waitPlayable(stream), "camera did not publish: \(camera.stderr)")
        let run = try await BrowserConsole.open(BrowserTests.consoleURL(server, stream, via: "webrtc"), stream: stream)
        #expect(run.listed, "\(run.json)")
        if let failed = run.previewFailed {
            #expect(failed.hasPrefix("this browser offered no H.265"), "\(run.json)")
            #expect(run.json["retried"]?.bool == false, "the page gives up, no reconnecting: \(run.json)")
        } else {
            let f = run.frames
            #expect(f.count == 2 && f[1] > f[0], "\(run.json)")
        }
        await server.stop()
    }

    @Test func whipPublishesTheFakeCameraReadBackOverRTMPAndRTSP() async throws {
        let stream = "live/whip-\(UInt32.random(in: 0...UInt32.max))"
        let server = try await TestServer.start()
        let stopFile = NSTemporaryDirectory() + "liverelay-whip-stop-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: stopFile) }
        async let published = BrowserConsole.open("http://127.0.0.1:\(server.adminPort)/#/publish/\(stream)", stream: stream,
                                                  seconds: 30, more: ["--publish", "--stop-file", stopFile])
        let playable = await server.waitPlayable(stream, seconds: 30)
        #expect(playable, "the WHIP publish became a playable stream")
        if playable {
            let info = try await AdminHTTP(port: server.adminPort).get("/api/v1/streams/\(stream)").value
            #expect(info["publisher"]?["protocol"]?.string == "webrtc", "\(info)")
            let readers: [(url: String, transport: String?)] = [(server.rtmpURL(stream), nil), (server.rtspURL(stream), "tcp")]
            for (url, transport) in readers {
                let r = try await FFprobe.run(url, rtspTransport: transport)
                #expect(r.status == 0, "ffprobe \(url): \(r.err)")
                #expect(r.out.contains("codec_name=h264|width="), "\(url): \(r.out)")
                #expect(r.out.contains("codec_name=pcm_alaw|") || r.out.contains("codec_name=pcm_mulaw|"), "\(url): \(r.out)")
                print("WHIP read back over \(url.prefix { $0 != ":" }): \(r.out.split(separator: "\n").joined(separator: "; "))")
            }
        }
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        let run = try await published
        #expect(run.listed && run.json["row"]?.string?.contains("webrtc") == true, "listed with its protocol: \(run.json)")
        let first = run.publishFirst, last = run.publishLast
        #expect((first["framesEncoded"]?.int ?? 0) > 0 && (first["packetsSent"]?.int ?? 0) > 0, "\(run.json)")
        #expect((last["framesEncoded"]?.int ?? 0) > (first["framesEncoded"]?.int ?? 0), "frames keep coming: \(run.json)")
        #expect((last["audioPacketsSent"]?.int ?? 0) > 0, "audio sent: \(run.json)")
        let codecs = last["codecs"]?.string ?? ""
        #expect(codecs.hasPrefix("H264") && (codecs.contains("PCMA") || codecs.contains("PCMU")), "\(codecs)")
        #expect(run.errors.isEmpty, "page errors: \(run.errors)")
        Self.expectSession(run)
        let streams = try await Self.waitList(server, "/api/v1/streams", "streams") { !$0.contains { $0["id"]?.string == stream } }
        #expect(!streams.contains { $0["id"]?.string == stream }, "Stop (DELETE) ended the stream: \(streams)")
        await server.stop()
    }
}
