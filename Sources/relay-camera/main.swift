import ArgumentParser
import Foundation
import Logging
import RelayCamera
import RelayCore
import RelayFLV

/// `relay-camera`: the camera board's software side — reads an Annex-B H.264/H.265 stream (file
/// or stdin), paces it in real time, pushes it over RTMP (reconnecting with back-off) and
/// optionally records it to FLV.
@main
struct RelayCameraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-camera",
        abstract: "Push an Annex-B H.264/H.265 stream (+ G.711/AAC audio) to an RTMP server in real time, like a camera board.")

    @Option(name: .long, help: "Annex-B elementary stream: FILE.h264, FILE.h265, or - for stdin.")
    var input: String

    @Option(name: .long, help: "Video codec: h264 or h265 (default: from the input's extension).")
    var codec: String?

    @Option(name: .long, help: "Audio: FILE.alaw / FILE.ulaw (raw G.711, 8 kHz mono) or FILE.aac (ADTS).")
    var audio: String?

    @Option(name: .long, help: "Where to publish: rtmp://host[:port]/app/stream.")
    var url: String

    @Option(name: .long, help: "Frame rate of the input (pacing and timestamps).")
    var fps: Double = 25

    @Flag(name: .long, help: "Start the input (and audio) again at its end.")
    var loop = false

    @Option(name: .long, help: "Also record to this FLV file.")
    var record: String?

    @Flag(name: .long, help: "Put the wall-clock capture time into every frame as an SEI (user_data_unregistered).")
    var stamp = false

    @Flag(name: .long, help: "Send H.265 as legacy FLV codec id 12 instead of Enhanced RTMP 'hvc1'.")
    var legacyHevc = false

    @Option(name: .long, help: "Stop after this many seconds of media.")
    var duration: Double?

    @Option(name: .long, help: "RTMP chunk size to announce and use.")
    var chunkSize: Int = 4096

    @Option(name: .long, help: "First reconnect delay, seconds (doubles each attempt, with jitter).")
    var reconnectMin: Double = 0.5

    @Option(name: .long, help: "Longest reconnect delay, seconds.")
    var reconnectMax: Double = 8

    @Option(name: .long, help: "Frames the recorder's queue holds before it drops the oldest.")
    var recordQueue: Int = 64

    @Flag(name: .long, help: "No status line (the summary is still printed).")
    var quiet = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard fps > 0 && fps <= 1000 else { throw ValidationError("--fps must be in (0, 1000]") }
        guard (128...65536).contains(chunkSize) else { throw ValidationError("--chunk-size must be in 128...65536") }
        guard reconnectMin > 0 && reconnectMax >= reconnectMin else {
            throw ValidationError("need 0 < --reconnect-min <= --reconnect-max")
        }
        guard recordQueue >= 1 else { throw ValidationError("--record-queue must be at least 1") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        if let codec, CodecID(rawValue: codec.lowercased()).map({ $0.isVideo }) != true {
            throw ValidationError("--codec must be h264 or h265")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "relay-camera")

        guard let videoCodec = codec.flatMap({ CodecID(rawValue: $0.lowercased()) })
            ?? CameraConfiguration.codec(forPath: input) else {
            throw ValidationError("cannot tell the codec of \(input): pass --codec h264|h265")
        }
        var config: CameraConfiguration
        do {
            config = CameraConfiguration(input: input, codec: videoCodec, url: try RTMPPublishURL(parsing: url))
        } catch {
            throw ValidationError("\(error)")
        }
        config.audio = audio
        config.fps = fps
        config.loop = loop
        config.record = record
        config.stamp = stamp
        config.hevcMode = legacyHevc ? .legacy : .enhanced
        config.duration = duration
        config.chunkSize = chunkSize
        config.backoff = Backoff(initial: reconnectMin, maximum: reconnectMax)
        config.recordQueueCapacity = recordQueue
        config.statusInterval = quiet ? 0 : 1

        let camera: Camera
        do {
            camera = try Camera(configuration: config, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("relay-camera: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let signals = TerminationSignals { name in
            logger.info("\(name): stopping")
            camera.stop()
        }
        let banner = "relay-camera: \(input) (\(videoCodec)) at \(fps) fps → \(url)"
            + (stamp ? " with capture stamps" : "") + (record.map { ", recording to \($0)" } ?? "")
        logger.info("\(banner)")
        let summary = await camera.run()
        withExtendedLifetime(signals) {}
        FileHandle.standardError.write(Data((summary.description + "\n").utf8))
        if summary.reason == "input error" { throw ExitCode(1) }
    }
}
