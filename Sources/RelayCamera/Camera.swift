#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayFLV

/// Everything `relay-camera` is told on its command line.
public struct CameraConfiguration: Sendable {
    /// Annex-B file, or "-" for stdin.
    public var input: String
    public var codec: CodecID
    public var audio: String?
    /// Where to push; nil for a camera that only records.
    public var url: RTMPPublishURL?
    public var fps: Double = 25
    public var loop = false
    public var record: String?
    public var stamp = false
    public var hevcMode = HEVCFLVMode.enhanced
    /// Stop after this many seconds of media.
    public var duration: Double?
    public var backoff = Backoff()
    public var chunkSize = 4096
    public var recordQueueCapacity = 64
    /// Seconds between status lines on stderr; 0 for none.
    public var statusInterval: Double = 1
    /// How long capture waits for the first RTMP connection before starting without it.
    public var firstConnectWait: Double = 3

    public init(input: String, codec: CodecID, url: RTMPPublishURL?) {
        self.input = input
        self.codec = codec
        self.url = url
    }

    /// The video codec the extension of `path` implies (see `CodecID(videoName:)`); nil for others and stdin.
    public static func codec(forPath path: String) -> CodecID? {
        CodecID(videoName: CodecID.fileExtension(path))
    }
}

/// Counters of the fetch loop.
public struct SourceStats: Sendable, Equatable {
    public var videoFrames = 0
    public var keyFrames = 0
    public var audioFrames = 0
    public var bytes = 0
    /// Times the input was rewound (--loop).
    public var loops = 0
    /// Access units dropped before the first parameter sets were seen.
    public var skippedNoParameterSets = 0
    /// Times the schedule was reset because input arrived more than a second late (slow pipe).
    public var rebases = 0
}

/// What `Camera.run` returns, and prints as the final summary.
public struct CameraSummary: Sendable, CustomStringConvertible {
    public var reason: String
    public var seconds: Double
    public var source: SourceStats
    public var publisher: PublisherStats?
    public var consumers: [ConsumerStats]
    public var recordError: String?

    public var description: String {
        var lines = ["relay-camera: \(reason) after \(String(format: "%.1f", seconds)) s: video \(source.videoFrames) frames "
            + "(\(source.keyFrames) key), audio \(source.audioFrames) frames, \(formatBytes(source.bytes)), "
            + "\(source.loops) loops"]
        if let p = publisher {
            lines.append("  rtmp: \(p.sessions) sessions, \(p.reconnects) reconnects, sent \(p.videoFramesSent) video + "
                + "\(p.audioFramesSent) audio frames, \(formatBytes(Int(p.bytesSent))), skipped \(p.framesSkipped), "
                + "congestion drops \(p.framesDroppedCongested)" + (p.lastError.map { ", last error: \($0)" } ?? ""))
        }
        for c in consumers where c.kind == "queued" {
            lines.append("  \(c.name): \(c.delivered) frames, queue drops \(c.dropped) (max queued \(c.maxQueued))"
                + (recordError.map { ", error: \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}

func formatBytes(_ n: Int) -> String {
    n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1e6) : String(format: "%.1f kB", Double(n) / 1e3)
}

/// The camera board as one object: the fetch loop (read, pace, stamp) feeding the dispatcher,
/// the RTMP publisher (event-loop consumer) and the FLV recorder (queued consumer), a status
/// line once a second and a summary at the end.
public final class Camera: Sendable {
    public let configuration: CameraConfiguration
    public let dispatcher = FrameDispatcher()
    public let publisher: RTMPPublisher?
    public let recorder: FLVRecorder?
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let fetch: FetchLoop
    private let stopRequested = NIOLockedValueBox(false)
    private let ended = OneShot()
    private let startedAt = NIOLockedValueBox<NIODeadline?>(nil)

    /// Opens the inputs and the recording file (so bad paths fail here) but sends nothing yet.
    public init(configuration: CameraConfiguration, logger: Logger) throws {
        guard configuration.fps > 0 && configuration.fps <= 1000 else {
            throw CameraInputError("--fps must be in (0, 1000]")
        }
        self.configuration = configuration
        self.logger = logger
        let reader = try AnnexBReader(path: configuration.input, codec: configuration.codec)
        let audio = try configuration.audio.map { try openAudioSource(path: $0) }
        if configuration.loop && !reader.canRewind {
            logger.warning("--loop ignored: \(configuration.input) is not a regular file")
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        if let url = configuration.url {
            var options = RTMPPublisher.Options(url: url)
            options.chunkSize = configuration.chunkSize
            options.hevcMode = configuration.hevcMode
            options.backoff = configuration.backoff
            options.audio = audio?.stream
            options.frameRate = configuration.fps
            publisher = RTMPPublisher(options: options, loop: group.next(), logger: logger)
        } else {
            publisher = nil
        }
        do {
            recorder = try configuration.record.map {
                try FLVRecorder(path: $0, audio: audio?.stream, hevcMode: configuration.hevcMode,
                                queueCapacity: configuration.recordQueueCapacity, logger: logger)
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        fetch = FetchLoop(configuration: configuration, reader: reader, audio: audio, logger: logger)
        if let publisher { dispatcher.register(publisher) }
        if let recorder { dispatcher.register(recorder) }
    }

    public var sourceStats: SourceStats { fetch.stats }

    /// Runs until the input ends (no --loop), --duration is reached or `stop()` is called; then
    /// drains the consumers, unpublishes, and returns the summary.
    public func run() async -> CameraSummary {
        let start = NIODeadline.now()
        startedAt.withLockedValue { $0 = start }
        if let publisher {
            // Capture starts once the first connection is up (or after a few seconds without):
            // so the stream begins with the first picture instead of waiting a GOP for a key frame.
            publisher.start()
            let deadline = NIODeadline.now() + .milliseconds(Int64(configuration.firstConnectWait * 1000))
            while publisher.stats.sessions == 0 && NIODeadline.now() < deadline && !stopRequested.withLockedValue({ $0 }) {
                try? await Task.sleep(nanoseconds: 10_000_000)
            }
        }
        let fetch = self.fetch
        let dispatcher = self.dispatcher
        let stopRequested = self.stopRequested
        let ended = self.ended
        let thread = Thread {
            let reason = fetch.run(dispatcher: dispatcher, stop: stopRequested)
            ended.fire(reason)
        }
        thread.name = "camera-fetch"
        thread.start()

        let status = configuration.statusInterval > 0 ? Task { await self.statusLoop() } : nil
        let reason = await ended.wait()
        status?.cancel()
        if configuration.statusInterval > 0 && isatty(2) != 0 {
            FileHandle.standardError.write(Data("\n".utf8))
        }
        await dispatcher.finish(timeout: 5)
        if let publisher { try? await publisher.stop().get() }
        try? await group.shutdownGracefully()
        return CameraSummary(
            reason: reason, seconds: Double((NIODeadline.now() - start).nanoseconds) / 1e9, source: fetch.stats,
            publisher: publisher?.stats, consumers: dispatcher.stats, recordError: recorder?.error)
    }

    /// Asks the camera to stop (thread-safe, idempotent); `run` then returns its summary.
    public func stop() {
        stopRequested.withLockedValue { $0 = true }
        // A fetch loop blocked reading a pipe cannot notice: give it a moment, then stop anyway.
        let ended = self.ended
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { ended.fire("stopped") }
    }

    /// The one-line status: frame rate and bitrate over the last interval, reconnects, drops.
    public func statusLine(previous: inout (time: NIODeadline, source: SourceStats, sent: UInt64)) -> String {
        let now = NIODeadline.now()
        let source = fetch.stats
        let pub = publisher?.stats
        let sent = pub?.bytesSent ?? 0
        let dt = max(Double((now - previous.time).nanoseconds) / 1e9, 1e-3)
        let fps = Double(source.videoFrames - previous.source.videoFrames) / dt
        let bits = Double(pub == nil ? UInt64(source.bytes - previous.source.bytes) : sent &- previous.sent) * 8 / dt
        let elapsed = startedAt.withLockedValue { $0 }.map { Double((now - $0).nanoseconds) / 1e9 } ?? 0
        previous = (now, source, sent)
        var line = String(format: "[%6.1fs] frames %d  %.1f fps  %.2f Mbit/s", elapsed, source.videoFrames, fps, bits / 1e6)
        if let pub {
            line += "  reconnects \(pub.reconnects)  \(pub.state)"
            if pub.framesDroppedCongested > 0 { line += "  net drops \(pub.framesDroppedCongested)" }
        }
        for c in dispatcher.stats where c.kind == "queued" {
            line += "  \(c.name) drops \(c.dropped)"
        }
        return line
    }

    private func statusLoop() async {
        var previous = (time: NIODeadline.now(), source: SourceStats(), sent: UInt64(0))
        let tty = isatty(2) != 0
        let nanos = UInt64(configuration.statusInterval * 1e9)
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: nanos)
            if Task.isCancelled { break }
            let line = statusLine(previous: &previous)
            FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + line : line + "\n").utf8))
        }
    }
}

/// Resumes one waiter with the first reason fired.
final class OneShot: Sendable {
    private let state = NIOLockedValueBox<(waiter: CheckedContinuation<String, Never>?, reason: String?)>((nil, nil))

    func fire(_ reason: String) {
        let waiter: CheckedContinuation<String, Never>? = state.withLockedValue { state in
            guard state.reason == nil else { return nil }
            state.reason = reason
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: reason)
    }

    func wait() async -> String {
        await withCheckedContinuation { continuation in
            let ready: String? = state.withLockedValue {
                if let reason = $0.reason { return reason }
                $0.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// The fetch loop: reads access units (and audio frames), waits until each one's time has
/// come, stamps it, and dispatches it. Runs on a thread of its own; only that thread touches the
/// readers.
final class FetchLoop: @unchecked Sendable {
    let configuration: CameraConfiguration
    private let reader: AnnexBReader
    private let audio: (any AudioFrameSource)?
    private let logger: Logger
    private let counters = NIOLockedValueBox(SourceStats())
    private var builder: VideoTrackBuilder

    init(configuration: CameraConfiguration, reader: AnnexBReader, audio: (any AudioFrameSource)?, logger: Logger) {
        self.configuration = configuration
        self.reader = reader
        self.audio = audio
        self.logger = logger
        self.builder = VideoTrackBuilder(codec: configuration.codec)
    }

    var stats: SourceStats { counters.withLockedValue { $0 } }

    /// Returns why it ended.
    func run(dispatcher: FrameDispatcher, stop: NIOLockedValueBox<Bool>) -> String {
        let frameMs = 1000 / configuration.fps
        let limitMs = configuration.duration.map { $0 * 1000 }
        let loop = configuration.loop && reader.canRewind
        var origin = monotonicNanos()
        var videoIndex = 0
        var audioIndex = 0
        var audioTrack = audio.map { CameraTrack(stream: $0.stream, generation: 1) }
        var pending: (AccessUnit, CameraTrack)?

        while !stop.withLockedValue({ $0 }) {
            if pending == nil {
                do {
                    pending = try nextVideo(loop: loop)
                } catch {
                    logger.error("\(error)")
                    return "input error"
                }
                guard pending != nil else { return "end of input" }
            }
            let videoMs = Double(videoIndex) * frameMs
            var audioMs = Double.infinity
            if let audio, audioTrack != nil { audioMs = Double(audioIndex) * audio.frameDurationMs }
            let isAudio = audioMs <= videoMs
            let dueMs = min(audioMs, videoMs)
            if let limitMs, dueMs >= limitMs - 0.001 { return "duration reached" }

            // Real-time pacing. If input is more than a second late (a slow pipe), start the
            // schedule again from now rather than bursting to catch up.
            let due = origin + UInt64(dueMs * 1e6)
            let now = monotonicNanos()
            if now > due + 1_000_000_000 {
                origin += now - due
                counters.withLockedValue { $0.rebases += 1 }
            } else if now < due {
                sleepUntil(due)
            }

            if isAudio, let audio {
                guard let data = nextAudio(audio, loop: loop) else {
                    audioTrack = nil  // audio ended; video goes on
                    continue
                }
                let ts = Int64(audioMs.rounded())
                let packet = AVPacket(streamIndex: 1, codec: audio.stream.codec, dts: ts, pts: ts, isKeyFrame: true,
                                      payload: data)
                dispatcher.dispatch(CameraFrame(sequence: audioIndex, packet: packet, track: audioTrack!,
                                                captureMicros: CaptureStamp.nowMicros()))
                audioIndex += 1
                counters.withLockedValue {
                    $0.audioFrames += 1
                    $0.bytes += data.readableBytes
                }
                continue
            }

            let (unit, track) = pending!
            pending = nil
            let capture = CaptureStamp.nowMicros()
            let payload = unit.lengthPrefixed(stampMicros: configuration.stamp ? capture : nil)
            let ts = Int64(videoMs.rounded())
            let packet = AVPacket(streamIndex: 0, codec: configuration.codec, dts: ts, pts: ts,
                                  isKeyFrame: unit.isKeyFrame, payload: payload)
            dispatcher.dispatch(CameraFrame(sequence: videoIndex, packet: packet, track: track, captureMicros: capture))
            videoIndex += 1
            counters.withLockedValue {
                $0.videoFrames += 1
                if unit.isKeyFrame { $0.keyFrames += 1 }
                $0.bytes += payload.readableBytes
            }
        }
        return "stopped"
    }

    /// The next access unit that can be sent (parameter sets known), rewinding at the end of
    /// the file when looping; nil at the end of the input.
    private func nextVideo(loop: Bool) throws -> (AccessUnit, CameraTrack)? {
        var rewoundEmpty = false
        while true {
            guard let unit = try reader.next() else {
                guard loop, !rewoundEmpty else { return nil }
                // A file with no access unit at all must not spin.
                rewoundEmpty = reader.unitsSinceRewind == 0
                try reader.rewind()
                counters.withLockedValue { $0.loops += 1 }
                continue
            }
            guard let track = try builder.update(with: unit) else {
                counters.withLockedValue { $0.skippedNoParameterSets += 1 }
                continue
            }
            return (unit, track)
        }
    }

    private func nextAudio(_ audio: any AudioFrameSource, loop: Bool) -> ByteBuffer? {
        if let data = audio.next() { return data }
        guard loop else { return nil }
        audio.rewind()
        return audio.next()
    }
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func sleepUntil(_ nanos: UInt64) {
    var ts = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
    #if canImport(Glibc)
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    #else
    let now = monotonicNanos()
    if nanos > now { usleep(UInt32((nanos - now) / 1000)) }
    _ = ts
    #endif
}
