import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayGB28181
import RelayServer
import RelayTestSupport
import Testing

/// A relay running in-process on free ports.
final class TestServer: Sendable {
    let server: RelayServer
    let rtmpPort: Int
    let httpPort: Int
    let rtspPort: Int
    let adminPort: Int
    /// The JT/T 1078 port (layout detected), and the port pinned to 2019 when `port_2019` was set.
    let jtPort: Int
    let jt2019Port: Int
    /// WHEP/WHIP media (UDP).
    let webrtcPort: Int

    /// `rtmp` / `http` / `rtsp` / `admin` / `jt1078` / `gb28181` / `webrtc`: extra keys for those sections (", \"key\": value"); `extra`: more sections.
    static func start(_ extra: String = "", rtmp: String = "", http: String = "", rtsp: String = "",
                      admin: String = "", jt1078: String = "", gb28181: String = "", webrtc: String = "") async throws -> TestServer {
        let json = """
        {"log_level": "debug",
         "rtmp": {"host": "127.0.0.1", "port": 0\(rtmp)},
         "http_flv": {"host": "127.0.0.1", "port": 0\(http)},
         "rtsp": {"host": "127.0.0.1", "port": 0\(rtsp)},
         "admin": {"host": "127.0.0.1", "port": 0\(admin)},
         "jt1078": {"host": "127.0.0.1", "port": 0\(jt1078)},
         "gb28181": {"host": "127.0.0.1", "shared_udp_port": 0, "shared_tcp_port": 0\(gb28181)},
         "webrtc": {"host": "127.0.0.1", "port": 0\(webrtc)}\(extra.isEmpty ? "" : ", " + extra)}
        """
        let (server, capture) = try await startRelay(json, logLevel: .debug)
        return TestServer(server: server, logs: capture)
    }

    /// A started relay with config `json`, logging into a capture at `logLevel`.
    static func startRelay(_ json: String, logLevel: Logger.Level) async throws -> (RelayServer, LogLines) {
        let config = try RelayConfig.parse(Data(json.utf8))
        let capture = LogLines()
        let server = RelayServer(config: config, logger: capture.logger(label: "relay-test", level: logLevel))
        try await server.start()
        return (server, capture)
    }

    private init(server: RelayServer, logs: LogLines) {
        self.server = server
        self.rtmpPort = server.port("rtmp") ?? 0
        self.httpPort = server.port("http_flv") ?? 0
        self.rtspPort = server.port("rtsp") ?? 0
        self.adminPort = server.port("admin") ?? 0
        self.jtPort = server.port("jt1078") ?? 0
        self.jt2019Port = server.port("jt1078_2019") ?? 0
        self.webrtcPort = server.port("webrtc") ?? 0
        self.captured = logs
    }

    private let captured: LogLines
    var log: LogLines { captured }
    /// GB28181 receivers (shared UDP/TCP ports on free ports: `gb.sharedUDPPort`, `gb.sharedTCPPort`).
    var gb: GB28181Service { server.gb28181 }

    func rtmpURL(_ stream: String) -> String { "rtmp://127.0.0.1:\(rtmpPort)/\(stream)" }
    func flvURL(_ stream: String) -> String { "http://127.0.0.1:\(httpPort)/\(stream).flv" }
    func rtspURL(_ stream: String) -> String { "rtsp://127.0.0.1:\(rtspPort)/\(stream)" }

    func stop() async {
        try? await server.stop()
    }

    /// Starts `ffmpeg -re` pushing `file` (looped) to `stream` over RTMP.
    func publish(_ file: String, stream: String, loop: Bool = true) throws -> ChildProcess {
        var args = ["-hide_banner", "-loglevel", "error", "-re"]
        if loop { args += ["-stream_loop", "-1"] }
        args += ["-i", file, "-c", "copy", "-f", "flv", rtmpURL(stream)]
        return try ChildProcess("ffmpeg", args)
    }

    /// Starts ffmpeg publishing `file` to `stream` (see `publish`) and expects the stream (without
    /// its query) to become playable, reported at the caller; terminate the process when done.
    func publishPlayable(_ file: String, stream: String,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws -> ChildProcess {
        let publisher = try publish(file, stream: stream)
        let name = String(stream.prefix { $0 != "?" })
        #expect(await waitPlayable(name), "\(name) did not become playable", sourceLocation: sourceLocation)
        return publisher
    }

    /// A server (settings as for `start`) with ffmpeg publishing the H.264 + AAC test file to
    /// `stream`, playable: where most play tests begin. Terminate the process when done.
    static func startPublishing(_ stream: String, _ extra: String = "", rtmp: String = "", rtsp: String = "",
                                sourceLocation: SourceLocation = #_sourceLocation) async throws -> (TestServer, ChildProcess) {
        let server = try await start(extra, rtmp: rtmp, rtsp: rtsp)
        let media = try await TestMedia.shared.h264AACFLV()
        return (server, try await server.publishPlayable(media, stream: stream, sourceLocation: sourceLocation))
    }

    /// Late joiners of `stream` 1.3 s into its 2 s GOP (published with this merge window), where
    /// each must still start on a key frame at once: `joins` players one after another, each
    /// returning its time to the first frame in ms. The times, sorted; the server is stopped.
    static func lateJoinTimes(_ stream: String, mergeWriteMs: Int, joins: Int,
                              sourceLocation: SourceLocation = #_sourceLocation,
                              _ join: (TestServer, Int) async throws -> Double) async throws -> [Double] {
        let (server, publisher) = try await startPublishing(
            stream, "\"source\": {\"merge_write_ms\": \(mergeWriteMs)}", sourceLocation: sourceLocation)
        defer { publisher.terminate() }
        try await Task.sleep(nanoseconds: 1_300_000_000)
        var times: [Double] = []
        for i in 0..<joins { times.append(try await join(server, i)) }
        await server.stop()
        return times.sorted()
    }

    /// ffmpeg publishing `file` to `stream` is refused: it exits with an error.
    func expectPublishRefused(_ file: String, stream: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let publisher = try publish(file, stream: stream)
        defer { publisher.terminate() }
        let status = await publisher.wait(seconds: 15)
        #expect(status != nil && status != 0, "publishing \(stream) should be refused, got \(String(describing: status))",
                sourceLocation: sourceLocation)
    }

    /// Waits until the stream is playable (its publisher connected and sent its tracks).
    func waitPlayable(_ stream: String, seconds: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = server.context.registry.source(stream), await s.isReady { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return false
    }
}
