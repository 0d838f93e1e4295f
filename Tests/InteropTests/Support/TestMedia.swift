import Foundation

/// Test clips made with ffmpeg once per test run (a user's clone has no shared media).
actor TestMedia {
    static let shared = TestMedia()
    private let cache = MediaCache("media")

    /// 720p25 H.264 (GOP 50, no B-frames) + AAC 44.1 kHz stereo, 12 s, FLV.
    func h264AACFLV() async throws -> String {
        try await cache.make("h264_aac_720p.flv", [
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", "12", "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-profile:v", "main", "-preset", "ultrafast", "-tune", "zerolatency",
            "-bf", "0", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-b:v", "2M", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "44100", "-f", "flv",
        ])
    }

    /// 720p25 H.264 + G.711 A-law 8 kHz mono, FLV (sound format 7).
    func h264G711FLV() async throws -> String {
        try await cache.make("h264_alaw_720p.flv", [
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000",
            "-t", "8", "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "25",
            "-b:v", "1M", "-pix_fmt", "yuv420p",
            "-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1", "-f", "flv",
        ])
    }

    struct MediaError: Error, CustomStringConvertible { let message: String; var description: String { message } }
}
