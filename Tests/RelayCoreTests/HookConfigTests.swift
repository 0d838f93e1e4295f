import Foundation
import RelayTestSupport
import Testing
@testable import RelayCore

@Suite struct HookConfigTests: ConfigSuite {
    @Test func hooksAreOffByDefault() throws {
        let c = try parse("{}")
        #expect(c.hooks.isEmpty)
        #expect(c.hooks.timeoutMs == 3000)
        #expect(c.hooks.failOpen == false)
        #expect(c.source.receiveTimeoutMs == 15_000)
        #expect(c.source.receiveTimeoutAction == "close")
        #expect(c.source.idleTimeoutAction == "keep")
    }

    @Test func aHookIsAURLOrAnObject() throws {
        let c = try parse("""
        {"hooks": {"timeout_ms": 800, "fail_open": false, "max_in_flight": 10,
                   "on_publish": "http://127.0.0.1:8090/hooks",
                   "on_play": {"url": "https://auth.example/play", "timeout_ms": 250, "fail_open": true},
                   "on_play_done": {"url": "http://h/p"},
                   "on_record": "", "on_started": null}}
        """)
        #expect(c.hooks.endpoint(.publish) == .init(url: "http://127.0.0.1:8090/hooks", timeoutMs: 800, failOpen: false))
        #expect(c.hooks.endpoint(.play) == .init(url: "https://auth.example/play", timeoutMs: 250, failOpen: true))
        #expect(c.hooks.endpoint(.playDone) == .init(url: "http://h/p", timeoutMs: 800, failOpen: false))
        #expect(c.hooks.endpoint(.record) == nil)
        #expect(c.hooks.endpoint(.started) == nil)
        #expect(c.hooks.maxInFlight == 10)
    }

    @Test func theDefaultFailOpenAppliesToEveryHook() throws {
        let c = try parse(#"{"hooks": {"fail_open": true, "on_play": "http://h/x", "on_publish": {"url": "http://h/y", "fail_open": false}}}"#)
        #expect(c.hooks.endpoint(.play)?.failOpen == true)
        #expect(c.hooks.endpoint(.publish)?.failOpen == false)
    }

    @Test func hookErrorsNameTheField() {
        #expect(field(#"{"hooks": {"on_pubish": "http://h/x"}}"#) == "hooks.on_pubish")
        #expect(field(#"{"hooks": {"on_publish": "ftp://h/x"}}"#) == "hooks.on_publish")
        #expect(field(#"{"hooks": {"on_publish": "http://"}}"#) == "hooks.on_publish")
        #expect(field(#"{"hooks": {"on_publish": 5}}"#) == "hooks.on_publish")
        #expect(field(#"{"hooks": {"on_publish": {"url": "http://h/x", "timeout": 5}}}"#) == "hooks.on_publish.timeout")
        #expect(field(#"{"hooks": {"on_publish": {"url": "nope"}}}"#) == "hooks.on_publish.url")
        #expect(field(#"{"hooks": {"on_play": {"url": "http://h/x", "timeout_ms": 10}}}"#) == "hooks.on_play.timeout_ms")
        #expect(field(#"{"hooks": {"timeout_ms": 0}}"#) == "hooks.timeout_ms")
        #expect(field(#"{"hooks": {"fail_open": "yes"}}"#) == "hooks.fail_open")
        #expect(field(#"{"hooks": []}"#) == "hooks")
    }

    @Test func timeoutsParse() throws {
        let c = try parse("""
        {"source": {"receive_timeout_ms": 5000, "receive_timeout_action": "keep", "idle_timeout_ms": 0, "idle_timeout_action": "close"}}
        """)
        #expect(c.source.receiveTimeoutMs == 5000)
        #expect(c.source.receiveTimeoutAction == "keep")
        #expect(c.source.idleTimeoutMs == 0)
        #expect(c.source.idleTimeoutAction == "close")
        #expect(field(#"{"source": {"idle_timeout_action": "drop"}}"#) == "source.idle_timeout_action")
    }

    @Test func decisionsReadTheAnswer() {
        let keep = HookDecision(allowed: true, status: 200, reason: "", answer: .object(["keep": .bool(true), "record": .bool(false)]))
        #expect(keep.keep)
        #expect(keep.record == false)
        let deniedKeep = HookDecision(allowed: false, status: 500, reason: "", answer: .object(["keep": .bool(true)]))
        #expect(!deniedKeep.keep)
        #expect(HookDecision(allowed: true, status: 200, reason: "").record == nil)
        #expect(HookDecision(allowed: false, status: 401, reason: "").deniedHTTPStatus == 401)
        #expect(HookDecision(allowed: false, status: 0, reason: "").deniedHTTPStatus == 403)
        #expect(HookDecision(allowed: false, status: 404, reason: "").deniedHTTPStatus == 403)
    }
}
