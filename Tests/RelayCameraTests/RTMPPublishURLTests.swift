import RelayCamera
import Testing

struct RTMPPublishURLTests {
    @Test func urlSplitsAppAndStream() throws {
        let url = try RTMPPublishURL(parsing: "rtmp://127.0.0.1:1936/live/cam1?token=x")
        #expect(url.host == "127.0.0.1")
        #expect(url.port == 1936)
        #expect(url.app == "live")
        #expect(url.streamName == "cam1?token=x")
        #expect(url.tcURL == "rtmp://127.0.0.1:1936/live")
        let noPort = try RTMPPublishURL(parsing: "rtmp://example.org/app/a/b")
        #expect(noPort.port == 1935)
        #expect(noPort.streamName == "a/b")
        #expect(throws: (any Error).self) { try RTMPPublishURL(parsing: "rtmp://host:1935/onlyapp") }
        #expect(throws: (any Error).self) { try RTMPPublishURL(parsing: "http://host/app/s") }
    }
}
