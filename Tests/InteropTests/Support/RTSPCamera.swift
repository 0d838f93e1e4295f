import Foundation

/// An IP camera for pull tests: GStreamer's RTSP server (Scripts/rtsp_camera.py) serving a looped clip at
/// `rtsp://127.0.0.1:PORT/cam` over TCP and UDP, with Digest auth when `user` is set. It keeps its port
/// across `stop()`/`start()`, so a test can take the camera down and bring it back where a pull expects it.
final class RTSPCamera: @unchecked Sendable {
    enum Video: String, Sendable { case h264, h265 }
    enum Audio: String, Sendable { case aac, pcma, none }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    static let media = MediaCache("rtsp-camera")

    let port: Int
    let video: Video
    let audio: Audio
    let user: String?
    let password: String?
    private let clip: String
    private let lock = NSLock()
    private var process: ChildProcess?

    /// Makes the clip (2 s at 25 fps, a key frame a second, no B-frames; AAC 48 kHz) and starts the camera on a free port.
    static func start(video: Video = .h264, audio: Audio = .aac, user: String? = nil,
                      password: String? = nil) async throws -> RTSPCamera {
        let camera = RTSPCamera(port: try freeTCPPort(), video: video, audio: audio, user: user, password: password,
                                clip: try await clip(video))
        try await camera.start()
        return camera
    }

    /// A camera that is not running yet (a pull that must wait for it): `start()` brings it up on `port`.
    static func stopped(video: Video = .h264, audio: Audio = .aac, user: String? = nil,
                        password: String? = nil) async throws -> RTSPCamera {
        RTSPCamera(port: try freeTCPPort(), video: video, audio: audio, user: user, password: password,
                   clip: try await clip(video))
    }

    private init(port: Int, video: Video, audio: Audio, user: String?, password: String?, clip: String) {
        self.port = port
        self.video = video
        self.audio = audio
        self.user = user
        self.password = password
        self.clip = clip
    }

    private static func clip(_ video: Video) async throws -> String {
        let codec: [String] = switch video {
        case .h264: ["-c:v", "libx264", "-profile:v", "main", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0"]
        case .h265: ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=0:log-level=error"]
        }
        return try await media.make("camera_\(video.rawValue)_aac.mkv", [
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "2"] + codec + ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-f", "matroska",
        ])
    }

    /// `rtsp://[user:password@]127.0.0.1:PORT/cam`, the credentials percent-encoded as a URL needs them
    /// (a space as %20); `password` overrides the camera's (a wrong one for 401 tests).
    func url(password: String? = nil) -> String {
        guard let user else { return "rtsp://127.0.0.1:\(port)/cam" }
        func encoded(_ s: String) -> String {
            s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn:
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? s
        }
        return "rtsp://\(encoded(user)):\(encoded(password ?? self.password ?? ""))@127.0.0.1:\(port)/cam"
    }

    var isRunning: Bool { lock.withLock { process?.isRunning ?? false } }

    /// Starts the server on `port` and waits (≤ 10 s) until it prints READY.
    func start() async throws {
        var args = ["\(HookServer.repoRoot)/Tests/InteropTests/Scripts/rtsp_camera.py", "--clip", clip,
                    "--port", "\(port)", "--video", video.rawValue, "--audio", audio.rawValue]
        if let user { args += ["--user", user, "--password", password ?? ""] }
        // GStreamer's bindings live in the system Python, not in a venv's.
        let child = try ChildProcess("/usr/bin/python3", args)
        lock.withLock { process = child }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if child.stdout.contains("READY \(port)") { return }
            guard child.isRunning else { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        child.terminate()
        throw Failed(description: "rtsp_camera.py did not get ready on port \(port): \(child.stderr.suffix(2000))")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 2 s); its clients' connections close.
    func stop() {
        let child = lock.withLock { () -> ChildProcess? in
            defer { process = nil }
            return process
        }
        child?.terminate()
    }

    /// Stops and starts again on the same port.
    func restart() async throws {
        stop()
        try await start()
    }

    /// What the server wrote to stderr (GStreamer warnings), for failure messages.
    var log: String { lock.withLock { process?.stderr ?? "" } }

    deinit { stop() }
}
