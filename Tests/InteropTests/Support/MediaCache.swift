import Foundation

/// The video codecs a device fixture (GB28181 camera, JT/T 1078 terminal) sends.
enum AnnexBVideo { case h264, h265 }

/// Files made with ffmpeg once per test run (a user's clone has no shared media), in a temporary
/// directory of their own: what every media fixture (TestMedia, CameraMedia, GBMedia, JTMedia)
/// builds on.
actor MediaCache {
    nonisolated let dir: String
    private var made: [String: String] = [:]
    /// Files being made: a second caller waits for the first one's ffmpeg.
    private var making: [String: Task<String, any Error>] = [:]

    /// `name` names the directory: liverelay-NAME-PID.
    init(_ name: String) {
        dir = NSTemporaryDirectory() + "liverelay-\(name)-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    /// `ffmpeg args… dir/name`, unless made already; the path.
    /// The file is written under a temporary name and renamed into place, so a caller never sees
    /// it half-written (nor does another cache of the same directory, which takes it as made).
    func make(_ name: String, _ args: [String]) async throws -> String {
        if let path = made[name] { return path }
        if let task = making[name] { return try await task.value }
        let path = "\(dir)/\(name)"
        let partial = "\(dir)/.partial-\(UUID().uuidString)-\(name)"
        let task = Task { () throws -> String in
            if FileManager.default.fileExists(atPath: path) { return path }
            let r = try await ChildProcess.run("ffmpeg", ["-y", "-hide_banner", "-loglevel", "error"] + args + [partial], timeout: 180)
            guard r.status == 0, rename(partial, path) == 0 else {
                try? FileManager.default.removeItem(atPath: partial)
                throw TestMedia.MediaError(message: "ffmpeg failed making \(name): \(r.err)")
            }
            return path
        }
        making[name] = task
        defer { making[name] = nil }
        let made = try await task.value
        self.made[name] = made
        return made
    }

    /// H.264 Main from testsrc2 at 25 fps, GOP 25 (a key frame a second), no B-frames, SPS/PPS
    /// before every IDR (as cameras and terminals send them), Annex-B.
    func h264AnnexB(_ name: String, size: String, seconds: Int, bitrate: String,
                    x264Params: String = "repeat-headers=1") async throws -> String {
        try await make(name, [
            "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25", "-t", "\(seconds)",
            "-c:v", "libx264", "-profile:v", "main", "-preset", "ultrafast", "-tune", "zerolatency",
            "-bf", "0", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", bitrate, "-pix_fmt", "yuv420p",
            "-x264-params", x264Params, "-f", "h264",
        ])
    }

    /// H.265 Main from testsrc2 at 25 fps, GOP 25, no B-frames, VPS/SPS/PPS before every IRAP, Annex-B.
    func h265AnnexB(_ name: String, size: String, seconds: Int, bitrate: String) async throws -> String {
        try await make(name, [
            "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25", "-t", "\(seconds)",
            "-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency", "-b:v", bitrate, "-pix_fmt", "yuv420p",
            "-x265-params", "keyint=25:min-keyint=25:scenecut=0:bframes=0:repeat-headers=1:log-level=error",
            "-f", "hevc",
        ])
    }

    /// The device fixtures' video: `stem`.h264 or `stem`.h265 as above.
    func annexB(_ codec: AnnexBVideo, stem: String, size: String, seconds: Int, bitrate: String) async throws -> String {
        switch codec {
        case .h264: try await h264AnnexB("\(stem).h264", size: size, seconds: seconds, bitrate: bitrate)
        case .h265: try await h265AnnexB("\(stem).h265", size: size, seconds: seconds, bitrate: bitrate)
        }
    }

    /// Raw G.711 A-law, 8 kHz mono, a 1 kHz tone (no header).
    func alaw(_ name: String, seconds: Int) async throws -> String {
        try await make(name, [
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000", "-t", "\(seconds)",
            "-ac", "1", "-ar", "8000", "-c:a", "pcm_alaw", "-f", "alaw",
        ])
    }

    /// AAC-LC 44.1 kHz stereo in ADTS, a 440 Hz tone.
    func adtsAAC(_ name: String, seconds: Int, bitrate: String) async throws -> String {
        try await make(name, [
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "\(seconds)",
            "-ac", "2", "-ar", "44100", "-c:a", "aac", "-b:a", bitrate, "-f", "adts",
        ])
    }
}
