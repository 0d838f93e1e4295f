import Foundation
import RelayCore
import Testing

/// The web console in headless Chromium, driven over the DevTools protocol by
/// Scripts/browser_console.py: what it saw, as the JSON line the script prints.
struct BrowserConsole {
    let json: JSONValue

    var listed: Bool { json["listed"]?.bool ?? false }
    var loginShown: Bool { json["login_shown"]?.bool ?? false }
    var refused: [JSONValue] { json["refused"]?.items ?? [] }
    var reloadListed: Bool? { json["reload_listed"]?.bool }
    /// `performance.now()` of the first decoded frame: ms from the page's navigation start.
    var firstFrameMs: Double? { json["first_frame_ms"]?.double }
    var codecs: String { json["codecs"]?.string ?? "" }
    /// Decoded frames and playhead seconds at the first frame and `seconds` later.
    var frames: [Int] { (json["frames"]?.items ?? []).compactMap(\.int) }
    var times: [Double] { (json["times"]?.items ?? []).compactMap(\.double) }
    var errors: [String] { (json["errors"]?.items ?? []).compactMap(\.string) }
    /// Why the page gave the preview up (a codec the browser lacks), nil while it plays.
    var previewFailed: String? { json["preview_failed"]?.string }
    var failure: String? { json["failure"]?.string ?? json["timed_out"]?.string }

    // WebRTC (via=webrtc, or the publish page): see WebRTCBrowserTests.
    /// From the WHEP answer set to the first decoded frame, ms.
    var answerToFirstFrameMs: Double? { json["answer_to_first_frame_ms"]?.double }
    /// Audio RTP packets received at the first frame and `seconds` later.
    var audioPackets: [Int] { (json["audio_packets"]?.items ?? []).compactMap(\.int) }
    /// The WHEP or WHIP requests the page made (method, path, status).
    var webrtcRequests: [(method: String, path: String, status: Int?)] {
        (json["requests"]?.items ?? []).map {
            (method: $0["method"]?.string ?? "", path: $0["path"]?.string ?? "", status: $0["status"]?.int)
        }
    }
    /// The publish page's stats when publishing began and when it was stopped.
    var publishFirst: JSONValue { json["publish"]?["first"] ?? .null }
    var publishLast: JSONValue { json["publish"]?["last"] ?? .null }

    /// Opens `url` (the console, a stream preselected) and watches `stream` play for `seconds`
    /// after its first frame; `login`: tokens typed into the login form in turn.
    /// `more`: the script's other options (`--publish`, `--stop-file PATH`).
    static func open(_ url: String, stream: String, login: [String] = [], seconds: Double = 2, more: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> BrowserConsole {
        let script = "\(HookServer.repoRoot)/Tests/InteropTests/Scripts/browser_console.py"
        var args = ["-u", script, url, "--stream", stream, "--seconds", String(seconds)] + more
        for token in login { args += ["--login", token] }
        let r = try await ChildProcess.run("python3", args, timeout: seconds + 60)
        #expect(r.status == 0, "browser_console.py: \(r.err)", sourceLocation: sourceLocation)
        let line = r.out.split(separator: "\n").last.map(String.init) ?? ""
        let run = BrowserConsole(json: (try? JSONValue.parse(Data(line.utf8))) ?? .null)
        #expect(run.failure == nil, "\(run.json)", sourceLocation: sourceLocation)
        return run
    }

    /// The stream was listed and played: frames decoded and the playhead moving, no page errors.
    func expectPlayed(seconds: Double = 2, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(listed, "the stream list shows the stream: \(json)", sourceLocation: sourceLocation)
        #expect(firstFrameMs != nil, "a first frame: \(json)", sourceLocation: sourceLocation)
        #expect(codecs.hasPrefix("avc1.") && codecs.contains("mp4a.40.2"), "codecs from the init segment: \(codecs)",
                sourceLocation: sourceLocation)
        let f = frames, t = times
        // 25 fps for `seconds`: well over half of those frames decoded, the playhead as far on.
        #expect(f.count == 2 && f[1] - f[0] >= Int(seconds * 12), "decoded frames grow: \(json)", sourceLocation: sourceLocation)
        #expect(t.count == 2 && t[1] - t[0] >= seconds / 2, "currentTime advances: \(json)", sourceLocation: sourceLocation)
        #expect(errors.isEmpty, "page errors: \(errors)", sourceLocation: sourceLocation)
    }
}
