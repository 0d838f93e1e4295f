import Foundation

/// hooks/example_hook_server.py as a child process on a free port: the hook server the hook
/// tests talk to, and the log of every body it received.
final class HookServer: Sendable {
    let process: ChildProcess
    let port: Int

    /// The repository root (this file is Tests/InteropTests/Support/HookServer.swift).
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    struct StartError: Error, CustomStringConvertible { let description: String }

    /// `arguments`: --secret, --delay-ms, --keep, --record …
    static func start(_ arguments: [String] = []) async throws -> HookServer {
        let script = "\(repoRoot)/hooks/example_hook_server.py"
        let p = try ChildProcess("python3", ["-u", script, "--port", "0"] + arguments)
        func listening() -> Int? {
            guard let first = p.stdoutLines.first,
                  let obj = try? JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any] else { return nil }
            return obj["port"] as? Int
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, p.isRunning {
            if let port = listening() { return HookServer(process: p, port: port) }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        if let port = listening() { return HookServer(process: p, port: port) }
        p.terminate()
        throw StartError(description: "example hook server did not start: \(p.stderr)")
    }

    private init(process: ChildProcess, port: Int) {
        self.process = process
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)/hooks" }

    /// Every body received so far (with the answer's status under "_status").
    var events: [[String: Any]] {
        process.stdoutLines.compactMap { line -> [String: Any]? in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  var body = obj["body"] as? [String: Any] else { return nil }
            body["_status"] = obj["status"]
            return body
        }
    }

    func events(_ name: String) -> [[String: Any]] {
        events.filter { $0["event"] as? String == name }
    }

    /// Waits until `count` bodies of `name` (matching `filter`) arrived; returns them.
    func wait(for name: String, count: Int = 1, seconds: Double = 10,
              where filter: ([String: Any]) -> Bool = { _ in true }) async -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let found = events(name).filter(filter)
            if found.count >= count || Date() >= deadline { return found }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    func stop() { process.terminate() }
}
