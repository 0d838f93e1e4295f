import Foundation
import RelayCore
import RelayTestSupport
import Testing

/// HLS (MPEG-TS and fMP4) and LL-HLS from the in-process relay, ffmpeg publishing over RTMP:
/// ffprobe/ffmpeg read and decode the playlists, our own parse checks RFC 8216 / rfc8216bis
/// rules across reloads, and a Swift LL-HLS client measures how close to the live edge parts arrive.
@Suite(.serialized)
struct HLSTests {
    static func url(_ server: TestServer, _ stream: String, _ query: String = "") -> String {
        "http://127.0.0.1:\(server.httpPort)/\(stream).m3u8" + (query.isEmpty ? "" : "?" + query)
    }

    @Test(arguments: ["ts", "fmp4"])
    func h264AACDecodesCleanlyAndPlaylistsFollowTheRFC(_ format: String) async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/hls")
        defer { publisher.terminate() }
        try await Task.sleep(nanoseconds: 1_500_000_000)  // a GOP is cached

        // The first playlist of a stream with a cached GOP: no waiting for a whole segment.
        let started = Date()
        var client = HLSClient(port: server.httpPort, stream: "live/hls")
        try await client.open(query: "format=\(format)")
        let first = try await client.playlist()
        let firstMs = Date().timeIntervalSince(started) * 1000
        #expect(first.status == 200 && !first.playlist.segments.isEmpty, "\(first.text)")
        #expect(firstMs < 1000, "first playlist after \(firstMs) ms")
        print("HLS \(format): multivariant + first media playlist in \(Int(firstMs)) ms")
        #expect(client.multivariant.contains("CODECS=\"avc1.") && client.multivariant.contains(",mp4a.40.2\",RESOLUTION=1280x720"),
                "\(client.multivariant)")
        #expect(first.playlist.violations.isEmpty, "\(first.playlist.violations)\n\(first.text)")
        if format == "fmp4" {
            #expect(first.playlist.partTarget == 0.25 && first.playlist.preloadHint != nil, "\(first.text)")
        }
        let segment = try await client.file(try #require(first.playlist.segments.first?.uri))
        #expect(segment.status == 200 && segment.body.count > 1000)

        // ffprobe and a clean decode of several live segments.
        try await FFprobe.expectStreams(Self.url(server, "live/hls", "format=\(format)"), context: "HLS \(format)")
        let decode = try await FMP4Tests.decode(Self.url(server, "live/hls", "format=\(format)"), seconds: 5)
        expectCleanDecode(decode.status, decode.err, "HLS \(format)")
        #expect(decode.videoFrames >= 100, "\(decode.videoFrames) frames")

        // Reloads keep the rules: media sequence, discontinuity sequence, target duration.
        let later = try await client.playlist()
        #expect(later.playlist.violations.isEmpty && later.playlist.violations(after: first.playlist).isEmpty,
                "\(later.playlist.violations(after: first.playlist))\n\(later.text)")
        #expect(later.playlist.mediaSequence + later.playlist.segments.count > first.playlist.mediaSequence + first.playlist.segments.count)
        let players = try await FMP4Tests.waitForPlayers(AdminHTTP(port: server.adminPort), stream: "live/hls")
        #expect(players.contains { $0["protocol"]?.string == (format == "ts" ? "hls" : "hls-fmp4") }, "\(players)")
        await server.stop()
    }

    /// H.265 + AAC from relay-camera (ffmpeg 5.1 cannot push HEVC over RTMP): TS carries it as
    /// stream type 0x24, fMP4 as `hvc1`.
    @Test func h265PlaysOverTSAndFMP4() async throws {
        let server = try await TestServer.start()
        let video = try await CameraMedia.shared.h265()
        let audio = try await CameraMedia.shared.aac()
        let camera = try ProductBinary.camera.start([
            "--input", video, "--audio", audio, "--url", server.rtmpURL("live/hevc"), "--loop", "--quiet",
        ])
        defer { camera.terminate() }
        #expect(await server.waitPlayable("live/hevc"), "camera did not publish: \(camera.stderr)")
        for format in ["ts", "fmp4"] {
            var client = HLSClient(port: server.httpPort, stream: "live/hevc")
            try await client.open(query: "format=\(format)")
            #expect(client.multivariant.contains("CODECS=\"hvc1."), "\(client.multivariant)")
            try await FFprobe.expectStreams(Self.url(server, "live/hevc", "format=\(format)"),
                                            video: "codec_name=hevc|width=1280|height=720", context: "HLS \(format) H.265")
            let decode = try await FMP4Tests.decode(Self.url(server, "live/hevc", "format=\(format)"), seconds: 3)
            expectCleanDecode(decode.status, decode.err, "HLS \(format) H.265")
            #expect(decode.videoFrames >= 50, "\(decode.videoFrames) frames")
        }
        await server.stop()
    }

    /// G.711 cannot be carried in HLS for browsers: the variant is the video alone.
    @Test(arguments: ["ts", "fmp4"])
    func g711SourcesPlayAsVideoOnly(_ format: String) async throws {
        let server = try await TestServer.start()
        let publisher = try await server.publishPlayable(try await TestMedia.shared.h264G711FLV(), stream: "live/alaw")
        defer { publisher.terminate() }
        var client = HLSClient(port: server.httpPort, stream: "live/alaw")
        try await client.open(query: "format=\(format)")
        let codecs = client.multivariant.split(separator: "\"").dropFirst().first ?? ""
        #expect(codecs.hasPrefix("avc1.") && !codecs.contains(","), "\(client.multivariant)")
        let probe = try await FFprobe.run(Self.url(server, "live/alaw", "format=\(format)"))
        #expect(probe.status == 0 && probe.out.contains("codec_name=h264|width=1280|height=720"), "\(probe.out) \(probe.err)")
        #expect(!probe.out.contains("pcm_alaw") && probe.out.split(separator: "\n").filter { $0.hasPrefix("stream|") }.count == 1, "\(probe.out)")
        await server.stop()
    }

    /// Audio alone: segments cut by time (TS segments that do not start with PAT/PMT are served
    /// after the stream's tables), decoded cleanly over both variants.
    @Test func audioOnlyStreamsAreCutByTimeAndDecodeCleanly() async throws {
        let server = try await TestServer.start("\"hls\": {\"segment_ms\": 1000}")
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try ChildProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", media,
                                                    "-vn", "-c", "copy", "-f", "flv", server.rtmpURL("live/audio")])
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/audio"))
        for format in ["ts", "fmp4"] {
            var client = HLSClient(port: server.httpPort, stream: "live/audio")
            try await client.open(query: "format=\(format)")
            #expect(client.multivariant.contains("CODECS=\"mp4a.40.2\"") && !client.multivariant.contains("RESOLUTION"))
            let decode = try await ChildProcess.run("ffmpeg", ["-v", "error", "-i", Self.url(server, "live/audio", "format=\(format)"),
                                                               "-t", "4", "-f", "null", "-"], timeout: 40)
            expectCleanDecode(decode.status, decode.err, "audio-only HLS \(format)")
            let p = try await client.playlist()
            #expect(p.playlist.violations.isEmpty && p.playlist.segments.count >= 3, "\(p.text)")
            #expect(p.playlist.segments.allSatisfy { $0.duration >= 1 && $0.duration < 1.1 }, "\(p.text)")
        }
        await server.stop()
    }

    /// A client doing blocking reloads for the next part: each arrives within about a part
    /// target of the previous one, and within a second of the live edge (the part's last frame
    /// reaching the relay, from PROGRAM-DATE-TIME and the part durations).
    @Test func llHLSBlockingReloadsDeliverEachPartNearTheLiveEdge() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/ll")
        defer { publisher.terminate() }
        var client = HLSClient(port: server.httpPort, stream: "live/ll")
        try await client.open(query: "format=fmp4")
        var current = try await client.playlist()
        var gaps: [Double] = [], edges: [Double] = []
        var last = Date()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let p = current.playlist
            #expect(p.violations.isEmpty, "\(p.violations)\n\(current.text)")
            let next = try await client.playlist(msn: p.nextMSN, part: p.openParts.count)
            let now = Date()
            try #require(next.status == 200, "blocking reload: \(next.status) \(next.text)")
            #expect(next.playlist.violations(after: p).isEmpty, "\(next.playlist.violations(after: p))")
            gaps.append(now.timeIntervalSince(last) * 1000)
            last = now
            // The newest part's end, in wall time: the open segment starts where the last
            // completed one (PROGRAM-DATE-TIME + EXTINF) ends.
            let dates = HLSClient.programDates(next.text, mediaSequence: next.playlist.mediaSequence)
            if let segment = next.playlist.segments.last, let date = dates[segment.msn], !next.playlist.openParts.isEmpty {
                let end = date.addingTimeInterval(segment.duration + next.playlist.openParts.reduce(0) { $0 + $1.duration })
                edges.append(now.timeIntervalSince(end) * 1000)
            }
            current = next
        }
        let hinted = try await client.file(try #require(current.playlist.preloadHint))
        #expect(hinted.status == 200 && hinted.body.count > 100)
        gaps.removeFirst()
        gaps.sort()
        edges.sort()
        let p90 = gaps[gaps.count * 9 / 10], edge90 = edges.isEmpty ? 9999 : edges[edges.count * 9 / 10]
        print("LL-HLS: \(gaps.count) parts, reload gap p50 \(Int(gaps[gaps.count / 2])) p90 \(Int(p90)) ms; behind the live edge p50 \(Int(edges.isEmpty ? 0 : edges[edges.count / 2])) p90 \(Int(edge90)) ms")
        #expect(gaps.count >= 14, "only \(gaps.count) parts in 5 s")
        #expect(p90 <= 400, "parts every \(gaps) ms")
        #expect(edge90 <= 1000, "behind the live edge: \(edges) ms")
        await server.stop()
    }

    /// A publisher that drops and comes back within `source.publisher_grace_ms`: the sessions go on;
    /// fMP4 marks the new publisher's initialization segment with a discontinuity and a new map.
    @Test func sessionsContinueWhenThePublisherComesBackWithinTheGrace() async throws {
        let (server, first) = try await TestServer.startPublishing("live/hgrace", "\"source\": {\"publisher_grace_ms\": 5000}")
        defer { first.terminate() }
        var ts = HLSClient(port: server.httpPort, stream: "live/hgrace")
        var fmp4 = HLSClient(port: server.httpPort, stream: "live/hgrace")
        try await ts.open()
        try await fmp4.open(query: "format=fmp4")
        try await Task.sleep(nanoseconds: 2_500_000_000)
        let tsBefore = try await ts.playlist(), fmp4Before = try await fmp4.playlist()
        first.signal(SIGKILL)
        _ = await first.wait(seconds: 5)
        try await Task.sleep(nanoseconds: 700_000_000)
        let second = try server.publish(try await TestMedia.shared.h264AACFLV(), stream: "live/hgrace")
        defer { second.terminate() }
        try await Task.sleep(nanoseconds: 5_000_000_000)
        for (name, client, before) in [("ts", ts, tsBefore), ("fmp4", fmp4, fmp4Before)] {
            let after = try await client.playlist()
            #expect(after.status == 200, "\(name): \(after.status)")
            #expect(after.playlist.violations.isEmpty && after.playlist.violations(after: before.playlist).isEmpty,
                    "\(name): \(after.playlist.violations(after: before.playlist)) \(after.text)")
            #expect(after.playlist.nextMSN > before.playlist.nextMSN + 1, "\(name): \(after.text)")
            let last = try #require(after.playlist.segments.last)
            #expect(try await client.file(last.uri).status == 200)
        }
        let after = try await fmp4.playlist()
        #expect(after.playlist.segments.contains { $0.discontinuity && $0.map?.contains("init-") == true }, "\(after.text)")
        await server.stop()
    }

    @Test func aSessionIsListedAsAPlayerAndLeavesAfterTheTimeout() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/sess", "\"hls\": {\"session_timeout_ms\": 1500}")
        defer { publisher.terminate() }
        var client = HLSClient(port: server.httpPort, stream: "live/sess")
        try await client.open(query: "token=abc")
        let api = AdminHTTP(port: server.adminPort)
        let players = try await FMP4Tests.waitForPlayers(api, stream: "live/sess")
        #expect(players.count == 1 && players.first?["protocol"]?.string == "hls", "\(players)")
        let metrics = try await api.get("/metrics").text
        #expect(metrics.contains("relay_hls_sessions 1"), "\(metrics.split(separator: "\n").filter { $0.contains("hls") })")
        // Requests keep it; silence ends it.
        for _ in 0..<3 {
            try await Task.sleep(nanoseconds: 700_000_000)
            #expect(try await client.playlist().status == 200)
        }
        try await Task.sleep(nanoseconds: 2_200_000_000)
        let after = try await api.get("/api/v1/players?stream=live%2Fsess").value["players"]?.items ?? []
        #expect(after.isEmpty, "\(after)")
        #expect(try await client.playlist().status == 404)
        await server.stop()
    }
}
