import Foundation
import RelayCore

/// A real `relay` process as a cluster node: its config in a temporary directory, its listeners'
/// ports read from its log. `terminate()` in a defer.
final class ClusterNode: Sendable {
    let name: String
    let process: ChildProcess
    let rtmp: Int
    let http: Int
    let admin: Int
    let directory: String

    struct StartError: Error, CustomStringConvertible { let description: String }

    /// `cluster`: the members of the `cluster` section besides enabled and node_id.
    static func start(_ name: String, cluster: String, extra: String = "") async throws -> ClusterNode {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = """
        {"log_level": "info",
         "rtmp": {"host": "127.0.0.1", "port": 0}, "http_flv": {"host": "127.0.0.1", "port": 0},
         "admin": {"host": "127.0.0.1", "port": 0},
         "rtsp": {"enabled": false}, "jt1078": {"enabled": false}, "webrtc": {"enabled": false}, "gb28181": {"enabled": false},
         "source": {"publisher_grace_ms": 0, "play_wait_ms": 5000},
         "pull": {"reconnect_min_ms": 200, "reconnect_max_ms": 1000, "on_demand_idle_ms": 2000},
         "cluster": {"enabled": true, "node_id": "\(name)", \(cluster)}\(extra)}
        """
        try config.write(toFile: "\(dir)/config.json", atomically: true, encoding: .utf8)
        let p = try ProductBinary.relay.start(["--config", "\(dir)/config.json"])
        var ports: [String: Int] = [:]
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, p.isRunning, ports.count < 3 {
            for listener in ["rtmp", "http_flv", "admin"] where ports[listener] == nil {
                ports[listener] = ShutdownTests.port(listener, in: p.stderr)
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        guard let rtmp = ports["rtmp"], let http = ports["http_flv"], let admin = ports["admin"] else {
            p.terminate()
            try? FileManager.default.removeItem(atPath: dir)
            throw StartError(description: "relay \(name) did not start: \(p.stderr.suffix(3000))")
        }
        return ClusterNode(name: name, process: p, rtmp: rtmp, http: http, admin: admin, directory: dir)
    }

    private init(name: String, process: ChildProcess, rtmp: Int, http: Int, admin: Int, directory: String) {
        self.name = name
        self.process = process
        self.rtmp = rtmp
        self.http = http
        self.admin = admin
        self.directory = directory
    }

    var api: AdminHTTP { AdminHTTP(port: admin) }

    /// The RTMP players of `stream` (an origin's are the edges' pulls).
    func players(_ stream: String, protocolName: String = "rtmp") async throws -> [JSONValue] {
        let list = try await api.get("/api/v1/players?stream=\(stream.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? stream)")
        guard case .array(let players)? = list.value["players"] else { return [] }
        return players.filter { $0["protocol"] == .string(protocolName) }
    }

    /// `GET /api/v1/pulls` as an array.
    func pulls() async throws -> [JSONValue] {
        guard case .array(let pulls)? = try await api.get("/api/v1/pulls").json else { return [] }
        return pulls
    }

    func terminate() {
        process.terminate()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
