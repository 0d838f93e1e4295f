import Testing

/// ffprobe as the tests run it: `-v error -show_entries ENTRIES -of compact URL`, one line per
/// stream ("stream|codec_name=h264|width=1280|height=720").
enum FFprobe {
    /// What most tests compare: codec, picture size, audio rate and channels.
    static let streamEntries = "stream=codec_name,width,height,sample_rate,channels"

    /// `rtspTransport`: "tcp" or "udp" for an rtsp:// URL (nil: ffprobe's default).
    static func run(_ url: String, entries: String = streamEntries, rtspTransport: String? = nil,
                    timeout: Double = 30) async throws -> (status: Int32?, out: String, err: String) {
        try await ChildProcess.run("ffprobe", ["-v", "error"] + (rtspTransport.map { ["-rtsp_transport", $0] } ?? [])
            + ["-show_entries", entries, "-of", "compact", url], timeout: timeout)
    }

    /// `run` with `streamEntries`, expecting ffprobe to succeed and to see `video` and the test
    /// media's audio (AAC 44.1 kHz stereo); `context`, read on failure, says where from.
    static func expectStreams(_ url: String, video: String = "codec_name=h264|width=1280|height=720",
                              rtspTransport: String? = nil, context: @autoclosure () -> String,
                              sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let r = try await run(url, rtspTransport: rtspTransport)
        #expect(r.status == 0, "ffprobe \(context()): \(r.err)", sourceLocation: sourceLocation)
        #expect(r.out.contains(video), "\(context()): \(r.out)", sourceLocation: sourceLocation)
        #expect(r.out.contains("codec_name=aac|sample_rate=44100|channels=2"), "\(context()): \(r.out)",
                sourceLocation: sourceLocation)
    }
}
