import ArgumentParser
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import RelayCore

/// What `play` and `soak` play, and how: stream URL, stream count, server PID, threads.
struct PlayerTargetOptions: ParsableArguments {
    @Option(help: "Stream URL: http://host:port/app/stream.flv (.mp4: fMP4, .m3u8: HLS, /whep or --protocol whep: WebRTC), ws://host:port/app/stream.flv (or .mp4), rtmp://host:port/app/stream or rtsp://host:port/app/stream (RTP over TCP). {i} is replaced by a stream number < --streams.")
    var url: String

    @Option(name: .customLong("protocol"),
            help: "Player protocol: rtmp, rtsp, flv, ws-flv, fmp4, ws-fmp4, hls or whep (default: from the URL's scheme and suffix).")
    var playerProtocol: PlayerProtocol?

    @Option(help: "Streams to play ({i} in --url): play spreads its players over them, soak picks one at random.")
    var streams: Int = 1

    @Option(help: "PID of the server: sample its CPU seconds, RSS and open fds from /proc.")
    var pid: Int32?

    @Option(help: "Event loop threads for the players.")
    var threads: Int = 1

    /// The protocol to play `url` with: `--protocol`, else from the URL.
    var resolvedProtocol: PlayerProtocol { playerProtocol ?? PlayerProtocol(url: url) }

    /// `url` with {i} replaced by stream `i` (modulo `streams`).
    func url(stream i: Int) -> String {
        url.replacingOccurrences(of: "{i}", with: String(i % max(streams, 1)))
    }
}

/// What a bench player speaks.
enum PlayerProtocol: String, ExpressibleByArgument, CaseIterable {
    case rtmp, rtsp, flv, wsFLV = "ws-flv", fmp4, wsFMP4 = "ws-fmp4", hls, whep

    /// From the scheme and the path's suffix: rtmp://, rtsp://, ws://….mp4 (else WS-FLV), http://….m3u8, ….mp4, …/whep (else HTTP-FLV).
    init(url: String) {
        let path = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        if url.hasPrefix("rtmp://") { self = .rtmp } else if url.hasPrefix("rtsp://") { self = .rtsp } else if url.hasPrefix("ws://") {
            self = path.hasSuffix(".mp4") ? .wsFMP4 : .wsFLV
        } else if path.hasSuffix(".m3u8") { self = .hls } else if path.hasSuffix("/whep") { self = .whep } else if path.hasSuffix(".mp4") { self = .fmp4 } else { self = .flv }
    }
}

/// The media a device sender (`gb-send`, `jt-send`) reads once and sends in real time.
struct SenderMediaOptions: ParsableArguments {
    @Option(help: "Annex-B H.264 or H.265 elementary stream file.")
    var video: String

    @Option(help: "Video codec: h264 or h265 (default: from the file extension, else from the stream).")
    var codec: String?

    @Option(help: "Audio file: raw G.711 (8 kHz mono) or AAC with ADTS headers; jt-send also raw G.726 or an IMA ADPCM WAV.")
    var audio: String?

    @Option(help: "Audio codec: g711a, g711u or aac (default: from the extension: .alaw .pcma .g711a / .ulaw .pcmu .g711u / .aac); jt-send also g726-16, g726-24, g726-32, g726-40 and adpcm (IMA ADPCM, adpcm_ima_wav blocks).")
    var audioCodec: String?

    @Option(help: "Video frame rate of the file.")
    var fps: Double = 25

    @Option(help: "G.711: milliseconds of audio per packet.")
    var audioFrameMs: Int = 40

    @Flag(help: "Start over at the end of the file (timestamps keep increasing).")
    var loop = false

    @Option(help: "Stop after this many seconds of media.")
    var duration: Double?

    /// How every device sender ends, for its --help.
    static let ending = "Prints one JSON line with what was sent when it ends (at the end of the file, after "
        + "--duration, or on SIGINT/SIGTERM)."

    func validate() throws {
        guard fps > 0, fps <= 240 else { throw ValidationError("--fps must be in (0, 240]") }
        guard (10...1000).contains(audioFrameMs) else { throw ValidationError("--audio-frame-ms must be 10...1000") }
    }
}

/// Set by SIGINT or SIGTERM while `watchSignals` holds: a sender stops and prints its stats line.
final class StopFlag: Sendable {
    private let value = NIOLockedValueBox(false)
    func set() { value.withLockedValue { $0 = true } }
    var isSet: Bool { value.withLockedValue { $0 } }

    /// Sets the flag on SIGINT or SIGTERM instead of ending the process, until cancelled.
    func watchSignals() -> TerminationSignals {
        TerminationSignals { _ in self.set() }
    }
}

/// Runs `body` on a fresh event loop group of `threads` threads, shut down afterwards whether
/// `body` threw or not.
func withEventLoopGroup<T>(threads: Int, _ body: (MultiThreadedEventLoopGroup) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    do {
        let result = try await body(group)
        try? await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}
