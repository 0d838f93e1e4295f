import Foundation
import Testing
@testable import RelayAdmin
import RelayCore

@Suite struct AdminUnitTests {
    @Test func percentDecodingIsStrict() {
        #expect(percentDecoded("live%2Fcam") == "live/cam")
        #expect(percentDecoded("a+b") == "a+b")
        #expect(percentDecoded("bad%2") == nil)
        #expect(percentDecoded("bad%zz") == nil)
        #expect(percentDecoded("%ff") == nil)  // not UTF-8
    }

    @Test func tokenComparison() {
        #expect(constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!constantTimeEqual([], Array("a".utf8)))
    }

    @Test func jsonRoundTripsThroughTheConfigParser() throws {
        let value = JSONValue.object(["on_publish": .string("http://h/p?a=\"b\"\\\n"), "timeout_ms": .number(250),
                                      "x": .array([.bool(true), .null, .number(1.5)])])
        #expect(try JSONValue.parse(value.data()) == value)
    }

    @Test func scrapeCountersNeverGoDown() {
        let metrics = ScrapeMetrics(protocols: ["rtmp", "flv"])
        var f = ScrapeMetrics.Figures()
        f.bytesOut = ["flv": 1000]
        #expect(metrics.render(f).contains(#"relay_bytes_out_total{protocol="flv"} 1000"#))
        f.bytesOut = ["flv": 900]  // a player moving from live to departed totals, seen between the two
        #expect(metrics.render(f).contains(#"relay_bytes_out_total{protocol="flv"} 1000"#))
        f.bytesOut = ["flv": 1500]
        f.players = ["flv": 2]
        let text = metrics.render(f)
        #expect(text.contains(#"relay_bytes_out_total{protocol="flv"} 1500"#))
        #expect(text.contains(#"relay_players{protocol="flv"} 2.0"#))
        #expect(text.contains(#"relay_players{protocol="rtmp"} 0.0"#))
    }

    /// A module's series whose subject is gone (a closed receiver) leaves the scrape.
    @Test func moduleGaugesOfAGoneSubjectAreDropped() {
        let metrics = ScrapeMetrics(protocols: [])
        var f = ScrapeMetrics.Figures()
        let lost = { (stream: String, value: Double) in
            ModuleGauge(name: "relay_gb28181_receiver_packets", help: "by fate", labels: [("stream", stream), ("fate", "lost")], value: value)
        }
        f.gauges = [lost("gb/a", 3), lost("gb/b", 5)]
        let both = metrics.render(f)
        #expect(both.contains(#"relay_gb28181_receiver_packets{stream="gb/a",fate="lost"} 3.0"#))
        #expect(both.contains(#"relay_gb28181_receiver_packets{stream="gb/b",fate="lost"} 5.0"#))
        f.gauges = [lost("gb/b", 6)]
        let one = metrics.render(f)
        #expect(!one.contains(#"stream="gb/a""#), "\(one)")
        #expect(one.contains(#"relay_gb28181_receiver_packets{stream="gb/b",fate="lost"} 6.0"#))
    }

    @Test func eventCountersReachTheProcessRegistry() {
        AdminMetrics.bootstrapOnce()
        RelayMetrics.parseError(protocol: "rtsp")
        RelayMetrics.hookCall(event: "on_publish", outcome: "ok", nanoseconds: 3_000_000)
        let text = AdminMetrics.events.emitToString()
        #expect(text.contains(#"relay_parse_errors_total{protocol="rtsp"}"#))
        #expect(text.contains(#"relay_hook_calls_total{event="on_publish",outcome="ok"}"#))
        #expect(text.contains(#"relay_hook_duration_seconds_bucket{event="on_publish",le="0.005"}"#), "\(text)")
    }

    @Test func procStatsReadsThisProcess() {
        let p = ProcStats.current()
        #expect(p.rssBytes > 0)
        #expect(p.threads > 0)
        #expect(p.cpuSeconds >= 0)
    }

    @Test func adminConfigSection() throws {
        let d = RelayConfig.default.admin
        #expect(d.listener.enabled && d.listener.host == "127.0.0.1" && d.listener.port == 8090)
        #expect(d.token.isEmpty && d.maxBodyBytes == 65536)
        #expect(d.requestTimeoutMs == 10_000 && d.maxConnections == 64)
        let c = try RelayConfig.parse(Data(#"{"admin": {"port": 0, "token": "t0k", "max_body_bytes": 4096, "enabled": false, "request_timeout_ms": 700, "max_connections": 3}}"#.utf8),
                                      sections: [AdminConfig.self])
        #expect(c.admin.listener.port == 0 && c.admin.token == "t0k" && c.admin.maxBodyBytes == 4096 && !c.admin.listener.enabled)
        #expect(c.admin.requestTimeoutMs == 700 && c.admin.maxConnections == 3)
        for (json, field) in [(#"{"admin": {"port": 70000}}"#, "admin.port"), (#"{"admin": {"token": "a b"}}"#, "admin.token"),
                              (#"{"admin": {"max_body_bytes": 10}}"#, "admin.max_body_bytes"), (#"{"admin": {"tokn": "x"}}"#, "admin.tokn"),
                              (#"{"admin": {"request_timeout_ms": 10}}"#, "admin.request_timeout_ms"),
                              (#"{"admin": {"max_connections": 0}}"#, "admin.max_connections"), (#"{"admin": {"host": ""}}"#, "admin.host")] {
            do {
                _ = try RelayConfig.parse(Data(json.utf8), sections: [AdminConfig.self])
                Issue.record("\(json) parsed")
            } catch let e as ConfigError {
                #expect(e.field == field, "\(json): \(e)")
            }
        }
    }
}
