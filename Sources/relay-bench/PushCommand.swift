import ArgumentParser
import Foundation
import Logging
import RelayBenchKit
import RelayCamera
import RelayCore

/// `relay-bench push`: M RTMP publishers of an Annex-B clip, in one process (each one a
/// relay-camera pipeline: real-time pacing, looping, optional capture stamps for glass-to-glass).
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Run M RTMP publishers of an Annex-B H.264/H.265 clip (plus optional G.711/AAC audio), paced in real time.")

    @Option(help: "Where to publish: rtmp://host:port/app/stream; {i} is replaced by the publisher number.")
    var url: String

    @Option(help: "Number of publishers.")
    var count: Int = 1

    @Option(help: "Annex-B elementary stream (.h264 or .h265).")
    var input: String

    @Option(help: "Audio: raw G.711 (.alaw/.ulaw, 8 kHz mono) or ADTS AAC (.aac).")
    var audio: String?

    @Option(help: "Frame rate of the input.")
    var fps: Double = 25

    @Option(help: "Seconds to publish.")
    var duration: Double = 10

    @Option(help: "Publishers started per second (0 = all at once).")
    var ramp: Double = 0

    @Flag(help: "Put the wall-clock capture time into every frame (for `play --latency`).")
    var stamp = false

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
    }

    func run() async throws {
        var logger = Logger(label: "relay-bench push")
        logger.logLevel = .warning
        guard let codec = CameraConfiguration.codec(forPath: input) else {
            throw ValidationError("cannot tell the codec of \(input) from its extension (.h264 / .h265)")
        }
        let selfStart = ProcStat(pid: getpid())
        let began = Date()
        var cameras: [Camera] = []
        for i in 0..<count {
            var config = CameraConfiguration(input: input, codec: codec,
                                             url: try RTMPPublishURL(parsing: url.replacingOccurrences(of: "{i}", with: "\(i)")))
            config.audio = audio
            config.fps = fps
            config.loop = true
            config.stamp = stamp
            config.duration = duration
            config.statusInterval = 0
            cameras.append(try Camera(configuration: config, logger: logger))
        }
        let summaries = await withTaskGroup(of: CameraSummary.self) { group in
            for (i, camera) in cameras.enumerated() {
                if ramp > 0 && i > 0 { try? await Task.sleep(nanoseconds: UInt64(1e9 / ramp)) }
                group.addTask { await camera.run() }
            }
            var all: [CameraSummary] = []
            for await s in group { all.append(s) }
            return all
        }
        let sent = summaries.reduce(0) { $0 + Int($1.publisher?.bytesSent ?? 0) }
        let failed = summaries.filter { ($0.publisher?.sessions ?? 0) == 0 || ($0.publisher?.reconnects ?? 0) > 0 }.count
        let seconds = Date().timeIntervalSince(began)
        var report: [(String, String)] = [
            ("publishers", "\(count)"), ("failures", "\(failed)"),
            ("sent_mbps", String(format: "%.1f", Double(sent) * 8 / seconds / 1e6)),
            ("seconds", String(format: "%.1f", seconds)),
        ]
        if let a = selfStart, let b = ProcStat(pid: getpid()) {
            report.append(("bench_cpu_pct", String(format: "%.1f", (b.cpuSeconds - a.cpuSeconds) / seconds * 100)))
        }
        let width = report.map(\.0.count).max() ?? 0
        for (k, v) in report { print(k.padding(toLength: width, withPad: " ", startingAt: 0), v) }
        print("{" + report.map { k, v in Double(v) != nil ? "\"\(k)\":\(v)" : "\"\(k)\":\"\(v)\"" }.joined(separator: ",") + "}")
        if failed > 0 { throw ExitCode(1) }
    }
}
