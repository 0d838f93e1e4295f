import Foundation
import Logging
import NIOCore
import NIOPosix
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayHooks

@Suite struct HookBodyTests {
    let session = SessionInfo(sessionID: "42", protocolName: "flv", remoteAddress: "127.0.0.1:50000",
                              params: ["token": "s3cr\"et", "a": "é\n"])

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func commonFieldsComeFirstInAFixedOrder() {
        let body = HookBody.make(.play, stream: "live/a", session: session, extra: [:])
        #expect(body == #"{"event":"on_play","stream":"live/a","protocol":"flv","remote_addr":"127.0.0.1:50000","session_id":"42","params":{"a":"é\n","token":"s3cr\"et"}}"#)
    }

    @Test func eventFieldsFollowAndNeverReplaceCommonOnes() throws {
        let body = HookBody.make(.playDone, stream: "live/a", session: session, extra: [
            "bytes_sent": .number(1234), "duration_ms": .number(1500.0), "event": .string("forged"),
            "ratio": .number(0.5), "ok": .bool(true), "list": .array([.null, .string("x")]),
        ])
        let o = try object(body)
        #expect(o["event"] as? String == "on_play_done")
        #expect(o["bytes_sent"] as? Int == 1234)
        #expect(o["duration_ms"] as? Int == 1500)
        #expect(o["ratio"] as? Double == 0.5)
        #expect(o["ok"] as? Bool == true)
        #expect((o["params"] as? [String: String])?["token"] == "s3cr\"et")
        #expect(body.contains(#""duration_ms":1500,"#), "integers print without a fraction: \(body)")
    }

    @Test func serverEventsHaveNoSessionFields() throws {
        let o = try object(HookBody.make(.started, stream: nil, session: nil, extra: ["ports": .object(["rtmp": .number(1935)])]))
        #expect(o["event"] as? String == "on_started")
        #expect(o["stream"] == nil)
        #expect(o["protocol"] == nil)
        #expect((o["ports"] as? [String: Int])?["rtmp"] == 1935)
    }

    @Test func controlCharactersAreEscaped() throws {
        let text = HookBody.json(.string("a\u{1}b\u{2028}c\t"))
        #expect(text == #""a\u0001b\u2028c\t""#)
        #expect(HookBody.json(.number(.nan)) == "null")
        #expect(HookBody.json(.number(-3)) == "-3")
    }

    @Test func answersAreReadAsJSONObjectsOrShortText() {
        let json = ByteBuffer(string: #" {"keep": true, "reason": "bad\ntoken"}"#)
        let answer = HTTPEventHooks.parseAnswer(json)
        #expect(answer?["keep"] == .bool(true))
        #expect(HTTPEventHooks.reason(answer: answer, bytes: json) == "bad token")
        let text = ByteBuffer(string: "go away\r\n")
        #expect(HTTPEventHooks.parseAnswer(text) == nil)
        #expect(HTTPEventHooks.reason(answer: nil, bytes: text) == "go away")
        #expect(HTTPEventHooks.parseAnswer(ByteBuffer(string: "[1]")) == nil)
        #expect(HTTPEventHooks.reason(answer: nil, bytes: ByteBuffer(string: String(repeating: "x", count: 600))) == nil)
    }
}

/// The client against sockets that refuse or never answer (no hook server needed).
@Suite(.serialized) struct HookClientTests {
    static let group = MultiThreadedEventLoopGroup.singleton
    let session = SessionInfo(sessionID: "1", protocolName: "rtmp", remoteAddress: "127.0.0.1:1")

    func hooks(_ json: String) throws -> HTTPEventHooks {
        let config = try RelayConfig.parse(Data(#"{"hooks": \#(json)}"#.utf8), sections: [])
        return HTTPEventHooks(config: config.hooks, group: Self.group, logger: Logger(label: "test"))
    }

    @Test func aRefusedConnectionDeniesUnlessFailOpen() async throws {
        let refusing = try LoopbackSocket(listening: false)  // bound, not listening: connections are refused
        defer { refusing.close() }
        let port = refusing.port
        let h = try hooks(#"{"timeout_ms": 10000, "on_publish": "http://127.0.0.1:\#(port)/h", "on_play": {"url": "http://127.0.0.1:\#(port)/h", "fail_open": true}}"#)
        let start = NIODeadline.now()
        let denied = await h.authorize(.publish, stream: "a/b", session: session, extra: [:])
        let elapsed = NIODeadline.now() - start
        #expect(!denied.allowed)
        // Refused at once (the client does not retry connecting until the 10 s timeout); only a
        // test run so loaded that this task was not scheduled for the whole timeout says otherwise.
        #expect(denied.reason.contains("refused") || elapsed >= .seconds(10), "\(denied.reason)")
        #expect(denied.status == 0)
        let allowed = await h.authorize(.play, stream: "a/b", session: session, extra: [:])
        #expect(allowed.allowed)
        #expect(allowed.reason.contains("fail-open"))
        let none = await h.authorize(.idleTimeout, stream: "a/b", session: session, extra: [:])
        #expect(none == .notConfigured)
        await h.shutdown()
    }

    @Test func aSilentServerIsAnsweredWithinTheTimeout() async throws {
        let silent = try LoopbackSocket()  // accepts (kernel backlog) and never answers
        defer { silent.close() }
        let h = try hooks(#"{"on_play": {"url": "http://127.0.0.1:\#(silent.port)/h", "timeout_ms": 300}}"#)
        let start = NIODeadline.now()
        let decision = await h.authorize(.play, stream: "a/b", session: session, extra: [:])
        let ms = (NIODeadline.now() - start).nanoseconds / 1_000_000
        #expect(!decision.allowed)
        #expect(decision.reason.contains("timed out"), "\(decision.reason)")
        // At the timeout, never at the silent server's (absent) answer; the interop tests check the
        // tight bound (timeout + 200 ms) end to end.
        #expect(ms >= 290 && ms < 300 + 1000, "answered after \(ms) ms")
        await h.shutdown()
    }

    @Test func beyondMaxInFlightDecisionsAreNotSent() async throws {
        let silent = try LoopbackSocket()
        defer { silent.close() }
        let h = try hooks(#"{"play_max_in_flight": 1, "on_play": {"url": "http://127.0.0.1:\#(silent.port)/h", "timeout_ms": 500}}"#)
        let session = self.session
        async let first = h.authorize(.play, stream: "a/b", session: session, extra: [:])
        try await Task.sleep(nanoseconds: 100_000_000)
        let start = NIODeadline.now()
        let second = await h.authorize(.play, stream: "a/b", session: session, extra: [:])
        #expect((NIODeadline.now() - start) < .milliseconds(50))
        #expect(!second.allowed)
        #expect(second.reason.contains("in flight"), "\(second.reason)")
        #expect(await !first.allowed)
        await h.shutdown()
    }

    /// Issue 16: players flooding on_play must not use up on_publish's budget (nor the reverse).
    @Test func eachHookClassHasItsOwnBudget() async throws {
        let silent = try LoopbackSocket()
        defer { silent.close() }
        let url = "http://127.0.0.1:\(silent.port)/h"
        let h = try hooks(#"{"play_max_in_flight": 2, "publish_max_in_flight": 1, "max_in_flight": 1, "timeout_ms": 400, "on_play": "\#(url)", "on_publish": {"url": "\#(url)", "fail_open": true}}"#)
        let session = self.session
        async let play1 = h.authorize(.play, stream: "a/1", session: session, extra: [:])
        async let play2 = h.authorize(.play, stream: "a/2", session: session, extra: [:])
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(h.pending(.play) == 2)
        // A third play is over budget: answered at once, not queued.
        let start = NIODeadline.now()
        let play3 = await h.authorize(.play, stream: "a/3", session: session, extra: [:])
        #expect((NIODeadline.now() - start) < .milliseconds(50))
        #expect(!play3.allowed && play3.reason.contains("in flight"), "\(play3.reason)")
        // A publish is still sent (it waits for its own answer: a timeout here, fail-open).
        async let publish1 = h.authorize(.publish, stream: "a/p", session: session, extra: [:])
        try await Task.sleep(nanoseconds: 50_000_000)
        #expect(h.pending(.publish) == 1)
        // Its own budget of 1 is full now: the next publish is answered at once, fail-open.
        let publish2 = await h.authorize(.publish, stream: "a/q", session: session, extra: [:])
        #expect(publish2.allowed && publish2.reason.contains("in flight") && publish2.reason.contains("fail-open"), "\(publish2.reason)")
        let first = await publish1
        #expect(first.allowed && first.reason.contains("timed out"), "\(first.reason)")
        _ = await (play1, play2)
        #expect(h.pending == 0)
        await h.shutdown()
    }
}

/// hooks/samples/ show real bodies: the common fields there are exactly what the client sends.
@Suite struct HookSampleTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("hooks/samples")

    @Test(arguments: HookEvent.allCases)
    func everyHookHasASampleBody(event: HookEvent) throws {
        let data = try Data(contentsOf: Self.samples.appendingPathComponent("\(event.rawValue).json"))
        let o = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(o["event"] as? String == event.rawValue)
        // Server events and a receiver that got nothing have no session.
        if event != .started && event != .receiverTimeout {
            for key in ["stream", "protocol", "remote_addr", "session_id", "params"] {
                #expect(o[key] != nil, "\(event.rawValue).json lacks \(key)")
            }
        }
    }

    @Test func theOnPlaySampleIsByteForByteWhatIsSent() throws {
        let text = try String(contentsOf: Self.samples.appendingPathComponent("on_play.json"), encoding: .utf8)
        let session = SessionInfo(sessionID: "23", protocolName: "flv", remoteAddress: "198.51.100.7:40022", params: ["token": "s3cret"])
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == HookBody.make(.play, stream: "live/cam1", session: session, extra: [:]))
    }
}
