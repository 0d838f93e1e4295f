import Foundation
import Testing
@testable import RelayAdmin
import RelayCore
import RelayGB28181

@Suite struct AdminUnitTests {
    func open(_ json: String) throws -> AdminAPI.OpenRequest {
        guard case .object(let o) = try JSONValue.parse(Data(json.utf8)) else { throw AdminError(.badRequest, "not an object") }
        return try AdminAPI.OpenRequest(o)
    }

    func openError(_ json: String) -> String? {
        do { _ = try open(json); return nil } catch let e as AdminError { return e.message } catch { return "\(error)" }
    }

    @Test func receiverRequestDefaults() throws {
        let shared = try open(#"{"stream": "gb/a", "ssrc": "0100000001"}"#)
        #expect(shared.port == .shared && shared.mode == .udp && shared.ssrc == 100_000_001)
        let own = try open(#"{"stream": "gb/a"}"#)
        #expect(own.port == .fromRange && own.ssrc == nil)
        let fixed = try open(#"{"stream": "gb/a", "mode": "tcp-passive", "port": 40123}"#)
        #expect(fixed.port == .fixed(40123) && fixed.mode == .tcpPassive)
        let active = try open(#"{"stream": "gb/a", "mode": "tcp-active", "device": "192.0.2.7:5060"}"#)
        #expect(active.mode == .tcpActive && active.device == "192.0.2.7:5060")
        #expect(try open(#"{"stream": "gb/a", "mode": "tcp-active", "device": "[2001:db8::1]:15060"}"#).device == "[2001:db8::1]:15060")
        #expect(try open(#"{"stream": "gb/a", "ssrc": "4294967295", "port": "auto"}"#).ssrc == UInt32.max)
    }

    @Test func receiverRequestErrorsSayWhat() {
        #expect(openError(#"{}"#)?.contains("'stream' is required") == true)
        #expect(openError(#"{"stream": "a//b"}"#)?.contains("not a valid stream id") == true)
        #expect(openError(#"{"stream": "gb/a", "ssrc": "4294967296"}"#)?.contains("invalid SSRC") == true)
        #expect(openError(#"{"stream": "gb/a", "ssrc": 7}"#)?.contains("'ssrc' must be a string") == true)
        #expect(openError(#"{"stream": "gb/a", "mode": "sctp"}"#)?.contains("'mode' must be") == true)
        #expect(openError(#"{"stream": "gb/a", "port": 0}"#)?.contains("'port' must be") == true)
        #expect(openError(#"{"stream": "gb/a", "port": 1.5}"#)?.contains("'port' must be") == true)
        #expect(openError(#"{"stream": "gb/a", "port": "shared"}"#)?.contains("needs an 'ssrc'") == true)
        #expect(openError(#"{"stream": "gb/a", "mode": "tcp-active"}"#)?.contains("needs 'device'") == true)
        #expect(openError(#"{"stream": "gb/a", "mode": "tcp-active", "device": "host"}"#)?.contains("host:port") == true)
        #expect(openError(#"{"stream": "gb/a", "mode": "tcp-active", "device": "host:0"}"#)?.contains("host:port") == true)
        #expect(openError(#"{"stream": "gb/a", "device": "host:1"}"#)?.contains("only for tcp-active") == true)
        #expect(openError(#"{"stream": "gb/a", "extra": 1}"#)?.contains("unknown field 'extra'") == true)
    }

    @Test func gbErrorsMapToStatuses() {
        #expect(AdminAPI.status(.duplicateStream("a")) == .conflict)
        #expect(AdminAPI.status(.streamPublished("a", holder: "rtmp 127.0.0.1:5000")) == .conflict)
        #expect(AdminAPI.status(.duplicateSSRC("1")) == .conflict)
        #expect(AdminAPI.status(.bindFailed(1, "in use")) == .conflict)
        #expect(AdminAPI.status(.invalidDeviceAddress("x")) == .badRequest)
        #expect(AdminAPI.status(.disabled) == .conflict)
    }

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
        let metrics = ScrapeMetrics()
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
        let c = try RelayConfig.parse(Data(#"{"admin": {"port": 0, "token": "t0k", "max_body_bytes": 4096, "enabled": false}}"#.utf8))
        #expect(c.admin.listener.port == 0 && c.admin.token == "t0k" && c.admin.maxBodyBytes == 4096 && !c.admin.listener.enabled)
        for (json, field) in [(#"{"admin": {"port": 70000}}"#, "admin.port"), (#"{"admin": {"token": "a b"}}"#, "admin.token"),
                              (#"{"admin": {"max_body_bytes": 10}}"#, "admin.max_body_bytes"), (#"{"admin": {"tokn": "x"}}"#, "admin.tokn")] {
            do {
                _ = try RelayConfig.parse(Data(json.utf8))
                Issue.record("\(json) parsed")
            } catch let e as ConfigError {
                #expect(e.field == field, "\(json): \(e)")
            }
        }
    }
}
