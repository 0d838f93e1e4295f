import Foundation
import RelayCore
import Testing

/// The node driven by a GB28181 platform in ZLMediaKit's dialect, end to end: Scripts/gb_platform.py
/// plays the platform (wvp-GB28181-pro's calls, parameters and hook answers, as
/// ../shared/reference/wvp-zlm-api.md reads them from its source) with its own hook server,
/// `relay-bench gb-send` is the device and ffprobe the viewer. Each mode of the receiver is one
/// run: register, open, publish (renamed by on_publish's stream_replace), play, cascade (UDP run),
/// unwatched → on_stream_none_reader → closed → regist false, the port freed.
@Suite(.serialized)
struct GBPlatformTests {
    static let secret = "035c73f7-bb6b-4889-a715-d9eb2d1925cc"
    static let nodeID = "your_server_id"

    static func start() async throws -> TestServer {
        try await TestServer.start("""
            "zlm": {"enabled": true, "secret": "\(secret)", "media_server_id": "\(nodeID)"},
            "source": {"idle_timeout_ms": 2000}
            """, gb28181: #", "port_min": 46000, "port_max": 46999"#)
    }

    @Test(arguments: ["udp", "tcp-passive", "tcp-active"])
    func aPlatformRegistersOpensPlaysCascadesAndStopsOnNoViewer(mode: String) async throws {
        let media = try await GBMedia.shared.files(.h264, audio: .g711a)
        let bench = try ProductBinary.bench.path()
        let server = try await Self.start()
        let script = "\(HookServer.repoRoot)/Tests/InteropTests/Scripts/gb_platform.py"
        var args = ["-u", script, "--api", "http://127.0.0.1:\(server.httpPort)", "--secret", Self.secret,
                    "--media-server-id", Self.nodeID, "--mode", mode, "--bench", bench,
                    "--video", media.video]
        if let audio = media.audio { args += ["--audio", audio] }
        if mode == "udp" { args.append("--cascade") }
        let platform = try ChildProcess("python3", args)
        let status = await platform.wait(seconds: 120)
        let checks = platform.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        for c in checks where c["check"] != nil {
            #expect(c["ok"] as? Bool == true, "\(mode): \(String(describing: c["check"])) failed: \(String(describing: c["detail"]))")
        }
        #expect(checks.count(where: { $0["check"] != nil }) >= 18, "\(mode): \(platform.stdout)\n\(platform.stderr)")
        #expect(status == 0, "\(mode): \(platform.stderr.suffix(2000))")
        await server.stop()
    }
}
