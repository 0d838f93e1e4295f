import Foundation
import RelayCore
import Testing
@testable import RelayZLM

/// The rules every call follows: the secret (ZLMediaKit server/WebApi.cpp `check_secret`), the
/// reply shape (`responseApi`: HTTP 200, `code` + `msg`), case-insensitive route names
/// (`s_map_api` is a `StrCaseCompare` map), and never the platform's -2
/// (wvp-GB28181-pro `media/zlm/dto/ZLMResult.java` `getFailForMediaServer`).
@Suite struct ZLMDispatchTests {
    @Test func everyCallNeedsTheSecret() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let missing = try await h.call("getServerConfig", method: "POST", contentType: "application/x-www-form-urlencoded", body: "")
        #expect(missing["code"] == .number(-100))
        let wrong = try await h.call("getServerConfig", query: "secret=035c73f7-bb6b-4889-a715-d9eb2d1925cX")
        #expect(wrong["code"] == .number(-100))
        #expect(wrong["msg"] == .string("Incorrect secret"))
        #expect(wrong["data"] == nil)
        let prefix = try await h.call("getServerConfig", query: "secret=035c73f7")
        #expect(prefix["code"] == .number(-100))
        let right = try await h.post("getServerConfig", "")
        #expect(right["code"] == .number(0))
        // Loopback is not exempt unless configured.
        let loopback = try await h.call("getServerConfig", remoteIP: "127.0.0.1")
        #expect(loopback["code"] == .number(-100))
    }

    @Test func loopbackMayGoWithoutTheSecretWhenConfigured() async throws {
        let h = try await ZLMHarness.start(zlm: #", "loopback_without_secret": true"#)
        defer { Task { await h.stop() } }
        #expect(try await h.call("getServerConfig", remoteIP: "127.0.0.1")["code"] == .number(0))
        #expect(try await h.call("getServerConfig", remoteIP: "::1")["code"] == .number(0))
        #expect(try await h.call("getServerConfig", remoteIP: "10.0.0.5")["code"] == .number(-100))
    }

    @Test func secretComparison() {
        #expect(ZLMFacade.sameSecret("abc", "abc"))
        #expect(!ZLMFacade.sameSecret("abd", "abc"))
        #expect(!ZLMFacade.sameSecret("ab", "abc"))
        #expect(!ZLMFacade.sameSecret("abcd", "abc"))
        // An empty configured secret matches nothing, an empty given one included.
        #expect(!ZLMFacade.sameSecret("", ""))
    }

    @Test func routesAreCaseInsensitiveAndUnknownOnesAnswerMinus500() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let lower = try await h.call("getserverconfig", query: "secret=\(ZLMHarness.secret)")
        #expect(lower["code"] == .number(0))
        let trailing = try await h.call("getServerConfig/", query: "secret=\(ZLMHarness.secret)")
        #expect(trailing["code"] == .number(0))
        let unknown = try await h.call("addStreamProxy", query: "secret=\(ZLMHarness.secret)")
        #expect(unknown["code"] == .number(-500))
        #expect(unknown["msg"] == .string("unsupported API: addStreamProxy"))
    }

    @Test func malformedJSONBodyIsMinus300AfterTheSecret() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let noSecret = try await h.call("getServerConfig", method: "POST", contentType: "application/json", body: "{")
        #expect(noSecret["code"] == .number(-100))
        let bad = try await h.call("getServerConfig", method: "POST", query: "secret=\(ZLMHarness.secret)",
                                   contentType: "application/json", body: "{")
        #expect(bad["code"] == .number(-300))
        let json = try await h.call("getServerConfig", method: "POST", contentType: "application/json",
                                    body: #"{"secret":"\#(ZLMHarness.secret)"}"#)
        #expect(json["code"] == .number(0))
    }

    /// Every route with missing, malformed and hostile parameters: a code of the dialect each
    /// time (0, -1, -100, -300, -400, -500), never -2, never a trap.
    @Test func hostileParametersNeverTrapNorAnswerMinus2() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let allowed: Set<Double> = [0, -1, -100, -300, -400, -500]
        let hostile = [
            "", "port=-1&stream_id=x", "port=70000&stream_id=x", "port=0&stream_id=../etc", "port=0&stream_id=a%00b",
            "stream_id=\(String(repeating: "A", count: 300))&port=0", "port=0&stream_id=X&tcp_mode=9", "port=0&stream_id=X&ssrc=99999999999",
            "port=0&stream_id=X&ssrc=-1", "stream_id=X&ssrc=abc", "stream_id=X&dst_url=1.2.3.4&dst_port=0",
            "stream_id=X&dst_url=a/b&dst_port=5", "vhost=__defaultVhost__&app=rtp&stream=X&ssrc=1&dst_url=1.2.3.4&dst_port=99999&is_udp=1",
            "vhost=__defaultVhost__&app=rtp&stream=X&ssrc=1&use_ps=0", "app=..&stream=..&vhost=v&schema=rtsp", "id=-5", "id=abc",
            "id=18446744073709551616", "url=rtsp://127.0.0.1/../../x&timeout_sec=99999999999", "url=file:///etc/passwd&timeout_sec=1",
            "rtp_proxy.port_range=9-1", "hook.alive_interval=nan", "hook.timeoutSec=1e308", "hook.on_publish=javascript:x",
            "force=maybe&app=x", "schema=rtsp&vhost=__defaultVhost__&app=rtp&stream=none",
        ]
        for route in ZLMFacade.routeNames where route != "restartServer" {
            for form in hostile {
                let reply = try await h.post(route, form)
                guard case .number(let code)? = reply["code"] else {
                    Issue.record("\(route) \(form): no code")
                    continue
                }
                #expect(allowed.contains(code), "\(route) \(form.prefix(40)): code \(code)")
            }
        }
    }
}
