import Testing
import RelayCore

@Suite struct UpstreamURLTests {
    @Test func rtspWithCredentialsAndDefaultPort() throws {
        let url = try #require(UpstreamURL("rtsp://admin:p%40ss@10.0.0.5/Streaming/Channels/101?transportmode=unicast"))
        #expect(url.scheme == .rtsp)
        #expect(url.user == "admin")
        #expect(url.password == "p@ss")
        #expect(url.host == "10.0.0.5")
        #expect(url.port == 554)
        #expect(url.path == "/Streaming/Channels/101?transportmode=unicast")
        #expect(url.redacted == "rtsp://10.0.0.5:554/Streaming/Channels/101?transportmode=unicast")
    }

    @Test func rtmpHTTPAndIPv6() throws {
        #expect(UpstreamURL("rtmp://origin:1936/live/a")?.port == 1936)
        #expect(UpstreamURL("HTTPS://cdn.example/live/a.flv")?.port == 443)
        let v6 = try #require(UpstreamURL("http://[::1]:8080/live/a.flv"))
        #expect(v6.host == "::1")
        #expect(v6.port == 8080)
        #expect(v6.redacted == "http://[::1]:8080/live/a.flv")
    }

    @Test func refusesWhatItCannotPull() {
        for bad in ["", "rtsp:/x", "ftp://h/x", "rtsp://", "rtsp://:554/x", "rtsp://h:0/x", "rtsp://h:99999/x",
                    "rtsp://h:abc/x", "rtmp://[::1/x", String(repeating: "a", count: 3000),
                    // What openapi.yaml's pattern forbids (PullURLPatternTests holds the two together).
                    "http://k*", "http://a@b@h/x", "http://@h/x", "http://h:0080/x", "http://h:+80/x", "http://h/a b",
                    "rtsp://[zz]/x", "rtsp://h\u{7F}/x", "http://hé/x"] {
            #expect(UpstreamURL(bad) == nil, "\(bad.prefix(40))")
        }
    }
}
