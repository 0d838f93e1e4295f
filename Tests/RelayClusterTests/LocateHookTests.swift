import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import Testing
@testable import RelayCluster

/// The on_locate hook against a real HTTP server (Python's http.server in a child process).
@Suite struct LocateHookTests {
    /// Answers by stream: live/a → an origin base, live/full → a stream URL with a node name,
    /// live/slow → late, live/bad → not JSON, live/self → this node; others 404. Prints each body.
    static let server = #"""
    import http.server, json, sys, time
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            print(json.dumps(body, sort_keys=True), flush=True)
            s = body['stream']
            answers = {'live/a': {'url': 'rtmp://127.0.0.1:19350'},
                       'live/full': {'url': 'rtmp://10.0.0.9:1935/live/full', 'node': 'origin-9'},
                       'live/self': {'url': 'rtmp://127.0.0.1:1935', 'node': 'edge-1'},
                       'live/bad': 'not json', 'live/empty': ''}
            if s == 'live/slow': time.sleep(2)
            if s not in answers:
                self.send_response(404); self.end_headers(); return
            a = answers[s]
            data = (a if isinstance(a, str) else json.dumps(a)).encode()
            self.send_response(200); self.send_header('Content-Length', str(len(data))); self.end_headers()
            self.wfile.write(data)
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
    """#

    @Test func answersOfTheHook() async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-u", "-c", Self.server]
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        // Not the test's stderr: a server left behind would hold swift test's output pipe open.
        p.standardError = FileHandle.nullDevice
        let printed = NIOLockedValueBox(Data())
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            printed.withLockedValue { $0.append(data) }
        }
        try p.run()
        defer {
            out.fileHandleForReading.readabilityHandler = nil
            // SIGKILL: Foundation starts children with SIGTERM blocked, so terminate() is not enough.
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        var text: String { String(decoding: printed.withLockedValue { $0 }, as: UTF8.self) }
        let deadline = Date().addingTimeInterval(10)
        while !text.contains("\n") && Date() < deadline { try await Task.sleep(nanoseconds: 10_000_000) }
        let port = try #require(Int(text.prefix { $0 != "\n" }), "the hook server did not start")
        let hook = LocateHook(url: "http://127.0.0.1:\(port)/locate", nodeID: "edge-1", timeoutMs: 300,
                              group: MultiThreadedEventLoopGroup.singleton, logger: PostgresFixture.logger)

        let a = await hook.locate("live/a")
        #expect(a == StreamLocation(stream: "live/a", node: "127.0.0.1:19350", url: "rtmp://127.0.0.1:19350"))
        #expect(a?.streamURL == "rtmp://127.0.0.1:19350/live/a")
        let full = await hook.locate("live/full")
        #expect(full?.node == "origin-9" && full?.streamURL == "rtmp://10.0.0.9:1935/live/full")
        #expect(await hook.locate("live/missing") == nil)
        #expect(await hook.locate("live/bad") == nil)
        #expect(await hook.locate("live/empty") == nil)
        #expect(await hook.locate("live/self") == nil, "the hook naming this node is no origin")
        let asked = Date()
        #expect(await hook.locate("live/slow") == nil)
        #expect(Date().timeIntervalSince(asked) < 1.0, "bounded by locate_timeout_ms")
        await hook.shutdown()
        // What the hook was told.
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(text.contains(#"{"node": "edge-1", "stream": "live/a"}"#))
    }
}
