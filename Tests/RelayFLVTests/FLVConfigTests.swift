import RelayCore
import RelayTestSupport
import Testing
@testable import RelayFLV

/// The `http_flv` and `record` sections (both RelayFLV's).
@Suite struct FLVConfigTests: ConfigSuite {
    static var sections: [any ConfigSection.Type] { [HTTPFLVConfig.self, RecordConfig.self] }

    @Test func httpFLVDefaultsAndValues() throws {
        let d = try parse("{}").httpFLV
        #expect(d.listener.port == 8080 && d.listener.enabled && d.cors)
        #expect(d.requestTimeoutMs == 10_000 && d.maxHeaderBytes == 16 << 10)
        let c = try parse(#"{"http_flv": {"request_timeout_ms": 500, "max_header_bytes": 2048, "cors": false}}"#).httpFLV
        #expect(c.requestTimeoutMs == 500 && c.maxHeaderBytes == 2048 && !c.cors)
        #expect(field(#"{"http_flv": []}"#) == "http_flv")
        #expect(field(#"{"http_flv": {"request_timeout_ms": 10}}"#) == "http_flv.request_timeout_ms")
        #expect(field(#"{"http_flv": {"max_header_bytes": 100}}"#) == "http_flv.max_header_bytes")
        #expect(field(#"{"http_flv": {"cors": "yes"}}"#) == "http_flv.cors")
    }

    @Test func recordParses() throws {
        let c = try parse("""
        {"record": {"enabled": true, "dir": "/var/rec", "streams": ["live/*", "cam/front"], "segment_ms": 60000}}
        """)
        #expect(c.record.dir == "/var/rec")
        #expect(c.record.segmentMs == 60000)
        #expect(c.record.matches("live/a"))
        #expect(c.record.matches("live/a/b"))
        #expect(c.record.matches("cam/front"))
        #expect(!c.record.matches("cam/back"))
        #expect(!c.record.matches("other/live/a"))
        #expect(field(#"{"record": {"streams": "live/*"}}"#) == "record.streams")
        #expect(field(#"{"record": {"streams": [1]}}"#) == "record.streams")
        #expect(field(#"{"record": {"dir": ""}}"#) == "record.dir")
        #expect(field(#"{"record": {"rotate": 1}}"#) == "record.rotate")
    }

    @Test func recordingIsOffUnlessEnabled() throws {
        #expect(try parse("{}").record.enabled == false)
        let off = try parse(#"{"record": {"streams": ["live/*"]}}"#)
        #expect(!off.record.matches("live/a"))
        let all = try parse(#"{"record": {"enabled": true}}"#)
        #expect(all.record.matches("anything/at/all"))
    }

    @Test func globs() {
        #expect(globMatch("*", "a/b"))
        #expect(globMatch("live/*/hd", "live/x/hd"))
        #expect(!globMatch("live/*/hd", "live/x/sd"))
        #expect(globMatch("*cam*", "front-cam-1"))
        #expect(!globMatch("cam", "cam2"))
    }
}
