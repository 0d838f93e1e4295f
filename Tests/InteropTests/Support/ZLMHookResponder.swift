import Foundation

/// A GB platform's hook endpoint in the ZLMediaKit dialect, as a python3 child process on a
/// free port: every hook is answered `{"code":0,"msg":"success"}`, on_publish also with
/// `stream_replace` (wvp-GB28181-pro `service/impl/MediaServiceImpl.java` authenticatePublish
/// renames `rtp/<hex>` to `<device>_<channel>`). It prints `NAME BODY` per call, one per line.
final class ZLMHookResponder: Sendable {
    let process: ChildProcess
    let port: Int

    static let script = #"""
import http.server, json, sys
replace = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        request = self.rfile.read(n)
        answer = {"code": 0, "msg": "success"}
        if self.path.endswith("/on_publish") and replace:
            answer["stream_replace"] = replace
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print(self.path.rsplit("/", 1)[-1], request.decode(), flush=True)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""#

    struct StartError: Error, CustomStringConvertible { let description: String }

    /// `streamReplace`: the on_publish answer's new stream name ("" keeps the name).
    static func start(streamReplace: String) async throws -> ZLMHookResponder {
        let p = try ChildProcess("python3", ["-u", "-c", script, streamReplace])
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, p.isRunning {
            if let first = p.stdoutLines.first, let port = Int(first) {
                return ZLMHookResponder(process: p, port: port)
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        p.terminate()
        throw StartError(description: "hook responder did not start: \(p.stderr)")
    }

    private init(process: ChildProcess, port: Int) {
        self.process = process
        self.port = port
    }

    /// `http://127.0.0.1:PORT/index/hook/NAME`, as wvp's prefix.
    func url(_ name: String) -> String { "http://127.0.0.1:\(port)/index/hook/\(name)" }

    /// The hooks called so far, by name, with their JSON bodies, in order. Only whole lines count:
    /// the child's output is read while it writes, and a half-read line parsed as an empty body.
    var calls: [(name: String, body: [String: Any])] {
        process.stdoutLines.dropFirst().compactMap { line in
            guard let space = line.firstIndex(of: " ") else { return nil }
            let body = try? JSONSerialization.jsonObject(with: Data(line[line.index(after: space)...].utf8)) as? [String: Any]
            return (String(line[..<space]), body ?? [:])
        }
    }

    /// Waits for a call of `hook` whose body satisfies `match`; nil after `seconds`.
    func wait(_ hook: String, seconds: Double = 10, _ match: ([String: Any]) -> Bool = { _ in true }) async -> [String: Any]? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let found = calls.first(where: { $0.name == hook && match($0.body) }) { return found.body }
            if Date() >= deadline { return nil }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    func stop() { process.terminate() }
}
