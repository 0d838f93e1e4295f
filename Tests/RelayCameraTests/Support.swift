import Foundation
import NIOCore
import RelayTestSupport

/// Small Annex-B clips made with ffmpeg for the unit tests (a clone has no shared media).
enum Clips {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static let dir: String = {
        let d = NSTemporaryDirectory() + "relay-camera-unit-\(getpid())"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    static func ffmpeg(_ args: [String]) throws { try FFmpegTool.run(args) }

    /// `frames` frames of 320x240 H.264, GOP `gop`, no B-frames; `slices` slices per picture;
    /// AUD before each access unit when `aud`.
    static func h264(frames: Int, gop: Int, slices: Int = 1, aud: Bool = false) throws -> String {
        let path = "\(dir)/h264_\(frames)_\(gop)_\(slices)_\(aud).h264"
        if FileManager.default.fileExists(atPath: path) { return path }
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "\(frames)",
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "\(gop)", "-keyint_min", "\(gop)",
            "-sc_threshold", "0", "-slices", "\(slices)", "-pix_fmt", "yuv420p",
            "-x264-params", "repeat-headers=1:aud=\(aud ? 1 : 0)", "-f", "h264", path,
        ])
        return path
    }

    /// `frames` frames of 320x240 H.265 (x265, GOP `gop`, no B-frames, headers before each IRAP).
    static func h265(frames: Int, gop: Int) throws -> String {
        let path = "\(dir)/h265_\(frames)_\(gop).h265"
        if FileManager.default.fileExists(atPath: path) { return path }
        try ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "\(frames)",
            "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-x265-params", "keyint=\(gop):min-keyint=\(gop):scenecut=0:bframes=0:repeat-headers=1:log-level=error",
            "-f", "hevc", path,
        ])
        return path
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
