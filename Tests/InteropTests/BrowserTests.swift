import Foundation
import RelayCore
import RelayMP4
import Testing

/// The web console in a real browser: headless Chromium opens the admin port's page with a live
/// H.264 + AAC stream preselected, lists it and plays it through Media Source Extensions from the
/// players' port (Support/BrowserConsole.swift drives it over the DevTools protocol).
@Suite(.serialized)
struct BrowserTests {
    static func consoleURL(_ server: TestServer, _ stream: String, via: String) -> String {
        "http://127.0.0.1:\(server.adminPort)/#/play/\(stream)?via=\(via)"
    }

    /// The browser's preview is a player of the relay like any other: listed with its protocol.
    static func listedPlayer(_ server: TestServer, _ stream: String, token: String? = nil) async throws -> [String] {
        let api = AdminHTTP(port: server.adminPort, token: token)
        for _ in 0..<300 {
            let players = try await api.get("/api/v1/players?stream=\(stream)").value["players"]?.items ?? []
            if !players.isEmpty { return players.compactMap { $0["protocol"]?.string } }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return []
    }

    /// Each preview transport: fMP4 over WebSocket, over HTTP, and LL-HLS with fMP4 parts.
    /// The stream's RFC 6381 codecs as the relay writes them into the init segment and playlists.
    static func codecs(_ server: TestServer, _ stream: String) async throws -> String {
        let source = try #require(server.server.context.registry.source(stream))
        return await source.streams.compactMap(MP4CodecString.rfc6381).joined(separator: ",")
    }

    @Test(arguments: [("ws", "ws-fmp4"), ("http", "fmp4"), ("llhls", "hls-fmp4")])
    func theConsoleListsAndPlaysALiveStream(via: String, protocolName: String) async throws {
        let stream = "live/browser-\(via)"
        let (server, publisher) = try await TestServer.startPublishing(stream)
        defer { publisher.terminate() }
        async let played = BrowserConsole.open(Self.consoleURL(server, stream, via: via), stream: stream)
        let players = try await Self.listedPlayer(server, stream)
        let run = try await played
        run.expectPlayed()
        #expect(run.codecs == (try await Self.codecs(server, stream)), "the page's codecs are the relay's own")
        #expect(!run.loginShown, "no token configured, no login: \(run.json)")
        #expect(players == [protocolName], "the preview's player: \(players)")
        print("browser first frame (\(protocolName)): \(run.firstFrameMs.map { String($0) } ?? "none") ms from navigation start")
        await server.stop()
    }

    /// H.265 + AAC: the codecs the page reads from the init segment (hvcC, esds) are the relay's
    /// own RFC 6381 strings. Headless Chromium on Linux decodes no HEVC: the page then says which
    /// codec the browser lacks and stops (no reconnecting); a browser that has it plays.
    @Test func anH265StreamIsNamedByItsCodecs() async throws {
        let stream = "live/browser-hevc"
        let server = try await TestServer.start()
        let camera = try ProductBinary.camera.start([
            "--input", try await CameraMedia.shared.h265(), "--audio", try await CameraMedia.shared.aac(),
            "--url", server.rtmpURL(stream), "--loop", "--quiet",
        ])
        defer { camera.terminate() }
        #expect(await server.waitPlayable(stream), "camera did not publish: \(camera.stderr)")
        let expected = try await Self.codecs(server, stream)
        #expect(expected.hasPrefix("hvc1.") && expected.hasSuffix(",mp4a.40.2"), "\(expected)")

        let run = try await BrowserConsole.open(Self.consoleURL(server, stream, via: "ws"), stream: stream)
        #expect(run.listed, "\(run.json)")
        #expect(run.codecs == expected, "page \(run.codecs), relay \(expected)")
        if let failed = run.previewFailed {
            #expect(failed == "this browser cannot play video/mp4; codecs=\"\(expected)\"", "\(run.json)")
            #expect(run.json["retried"]?.bool == false, "the page gives up, no reconnecting: \(run.json)")
        } else {
            let f = run.frames
            #expect(f.count == 2 && f[1] > f[0], "\(run.json)")
        }
        await server.stop()
    }

    @Test func withAnAdminTokenThePageAsksThenWorks() async throws {
        let stream = "live/browser-token"
        let server = try await TestServer.start(admin: #", "token": "s3cret""#)
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: stream)
        defer { publisher.terminate() }
        let run = try await BrowserConsole.open(Self.consoleURL(server, stream, via: "ws"), stream: stream, login: ["wrong", "s3cret"])
        #expect(run.loginShown, "the page asks for the token: \(run.json)")
        #expect(run.refused.count == 1, "the wrong token is refused: \(run.json)")
        run.expectPlayed()
        #expect(run.reloadListed == true, "a reload keeps the token (localStorage): \(run.json)")
        await server.stop()
    }
}
