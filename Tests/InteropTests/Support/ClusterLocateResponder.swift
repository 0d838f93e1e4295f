import Foundation

/// Scripts/cluster_locate_hook.py as a child process: an on_locate hook that names `origin`
/// for every stream but live/nothing*, and logs what it was asked.
final class LocateResponder: Sendable {
    let process: ChildProcess
    let port: Int

    struct StartError: Error, CustomStringConvertible { let description: String }

    init(origin: String) async throws {
        let script = "\(HookServer.repoRoot)/Tests/InteropTests/Scripts/cluster_locate_hook.py"
        let p = try ChildProcess("python3", ["-u", script, "--origin", origin])
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, p.isRunning, !p.stdout.contains("\n") {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        guard let port = Int(p.stdout.prefix { $0 != "\n" }) else {
            p.terminate()
            throw StartError(description: "locate hook did not start: \(p.stderr)")
        }
        self.process = p
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)/locate" }
    /// The bodies it received, one JSON object a line.
    var asked: String { String(process.stdout.drop { $0 != "\n" }) }

    func stop() { process.terminate() }
}
