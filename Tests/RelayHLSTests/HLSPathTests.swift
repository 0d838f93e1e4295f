import Testing
@testable import RelayHLS

@Suite struct HLSPathTests {
    static let token = "0123456789abcdef0123456789abcdef"

    @Test func urlsNameAPlaylistOrASessionFile() {
        #expect(HLSPath("/live/cam.m3u8") == .playlist(stream: "live/cam"))
        #expect(HLSPath("/a/b/cam.m3u8") == .playlist(stream: "a/b/cam"))
        #expect(HLSPath("/live/cam.hls/\(Self.token)/12.ts") == .file(stream: "live/cam", session: Self.token, file: .segment(msn: 12, format: .ts)))
        #expect(HLSPath("/live/cam.hls/\(Self.token)/3.m4s") == .file(stream: "live/cam", session: Self.token, file: .segment(msn: 3, format: .fmp4)))
        #expect(HLSPath("/live/cam.hls/\(Self.token)/3.7.m4s") == .file(stream: "live/cam", session: Self.token, file: .part(msn: 3, part: 7)))
        #expect(HLSPath("/live/cam.hls/\(Self.token)/init.mp4") == .file(stream: "live/cam", session: Self.token, file: .initSegment(0)))
        #expect(HLSPath("/live/cam.hls/\(Self.token)/init-2.mp4") == .file(stream: "live/cam", session: Self.token, file: .initSegment(2)))
        // A stream named like the marker still resolves at the last one.
        #expect(HLSPath("/live/a.hls/b.hls/\(Self.token)/1.ts") == .file(stream: "live/a.hls/b", session: Self.token, file: .segment(msn: 1, format: .ts)))
        #expect(HLSPath.matches("/live/cam.m3u8") && HLSPath.matches("/live/cam.hls/x/1.ts"))
        #expect(!HLSPath.matches("/live/cam.flv") && !HLSPath.matches("/live/cam.hlsx/1.ts") && !HLSPath.matches("/x.hls"))
    }

    @Test func anythingElseIsNotAnHLSURL() {
        let bad = ["live/cam.m3u8", "/.m3u8", "/../cam.m3u8", "/live//cam.m3u8", "/live/cam.hls/\(Self.token)/1.ts/x",
                   "/live/cam.hls/ABCDEF0123456789abcdef0123456789/1.ts", "/live/cam.hls/\(Self.token)/+1.ts",
                   "/live/cam.hls/\(Self.token)/1.2.3.m4s", "/live/cam.hls/\(Self.token)/1.ts.ts", "/live/cam.hls/\(Self.token)/",
                   "/live/cam.hls/\(Self.token)/init-.mp4", "/live/cam.hls/\(Self.token)/9999999999999999.ts", "/.hls/\(Self.token)/1.ts",
                   "/live/cam.hls/\(Self.token)/1.ts\u{0}", "/live/ca\u{e9}m.hls/\(Self.token)/1.ts"]
        for path in bad { #expect(HLSPath(path[...]) == nil, "\(path)") }
    }
}
