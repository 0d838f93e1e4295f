import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import RelayBenchKit
import RelayCore

/// `relay-bench soak`: churn for a long time — N player slots, each connecting to a random stream,
/// staying a random time, leaving and coming back — while the server's RSS and open file
/// descriptors are sampled, to show nothing leaks.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Players joining and leaving at random for a long run; samples server RSS and fds.")

    @OptionGroup var target: PlayerTargetOptions

    @Option(help: "Concurrent player slots.")
    var players: Int = 200

    @Option(help: "Mean player lifetime, seconds (each lives uniformly 0.2 … 2 × mean).")
    var lifetime: Double = 10

    @Option(help: "Seconds to run.")
    var duration: Double = 1800

    @Option(help: "Seconds between samples.")
    var sampleEvery: Double = 10

    func run() async throws {
        let tally = NIOLockedValueBox(Tally())
        let fdsBefore = target.pid.flatMap { ProcStat.openFileDescriptors(pid: $0) }
        let rssBefore = target.pid.flatMap { ProcStat(pid: $0)?.rssBytes }
        let end = Date().addingTimeInterval(duration)
        let sampled = NIOLockedValueBox<[Sample]>([])
        let began = Date()

        try await withEventLoopGroup(threads: target.threads) { group in
            await withTaskGroup(of: Void.self) { tasks in
                for slot in 0..<players {
                    tasks.addTask {
                        // Spread the first joins over the first lifetime.
                        try? await Task.sleep(nanoseconds: UInt64(Double.random(in: 0...lifetime) * 1e9))
                        while Date() < end {
                            await cycle(slot: slot, group: group, tally: tally, until: end)
                        }
                    }
                }
                tasks.addTask {
                    while Date() < end {
                        try? await Task.sleep(nanoseconds: UInt64(sampleEvery * 1e9))
                        guard let pid = target.pid, let s = ProcStat(pid: pid), let fds = ProcStat.openFileDescriptors(pid: pid) else { continue }
                        let t = Date().timeIntervalSince(began)
                        let counts = tally.withLockedValue { $0 }
                        FileHandle.standardError.write(Data(String(format: "t=%.0f s rss=%.1f MiB fds=%d connects=%d failures=%d\n",
                                                                   t, Double(s.rssBytes) / 1048576, fds, counts.connects, counts.failures).utf8))
                        sampled.withLockedValue { $0.append(Sample(t: t, rss: s.rssBytes, fds: fds)) }
                    }
                }
            }
        }
        // Every player is gone: give the server a moment, then see what it still holds.
        try? await Task.sleep(nanoseconds: 3_000_000_000)
        let t = tally.withLockedValue { $0 }
        let samples = sampled.withLockedValue { $0 }
        var report: [(String, String)] = [
            ("slots", "\(players)"), ("streams", "\(target.streams)"), ("connects", "\(t.connects)"),
            ("failures", "\(t.failures)"), ("not_found", "\(t.notFound)"), ("ended_by_server", "\(t.endedByServer)"),
            ("video_frames", "\(t.videoFrames)"), ("gb_received", String(format: "%.2f", Double(t.bytes) / 1e9)),
        ]
        if let pid = target.pid {
            // Flatness over the steady part: samples after the first fifth of the run.
            let steady = samples.filter { $0.t >= duration / 5 }.map(\.rss)
            if let lo = steady.min(), let hi = steady.max(), let first = steady.first, let last = steady.last {
                report += [
                    ("rss_steady_first_mib", String(format: "%.1f", Double(first) / 1048576)),
                    ("rss_steady_last_mib", String(format: "%.1f", Double(last) / 1048576)),
                    ("rss_steady_min_mib", String(format: "%.1f", Double(lo) / 1048576)),
                    ("rss_steady_max_mib", String(format: "%.1f", Double(hi) / 1048576)),
                    ("rss_steady_spread_pct", String(format: "%.1f", Double(hi - lo) / Double(lo) * 100)),
                ]
            }
            if let r = rssBefore { report.append(("rss_before_mib", String(format: "%.1f", Double(r) / 1048576))) }
            if let r = ProcStat(pid: pid)?.rssBytes { report.append(("rss_after_mib", String(format: "%.1f", Double(r) / 1048576))) }
            if let f = fdsBefore { report.append(("fds_before", "\(f)")) }
            if let f = samples.map(\.fds).max() { report.append(("fds_max", "\(f)")) }
            if let f = ProcStat.openFileDescriptors(pid: pid) { report.append(("fds_after", "\(f)")) }
        }
        report.append(("seconds", String(format: "%.0f", Date().timeIntervalSince(began))))
        let width = report.map(\.0.count).max() ?? 0
        for (k, v) in report { print(k.padding(toLength: width, withPad: " ", startingAt: 0), v) }
        print("{" + report.map { k, v in Double(v) != nil ? "\"\(k)\":\(v)" : "\"\(k)\":\"\(v)\"" }.joined(separator: ",") + "}")
        if t.failures > 0 { throw ExitCode(1) }
    }

    /// One player's life: connect, stay, check what it saw, leave.
    private func cycle(slot: Int, group: MultiThreadedEventLoopGroup, tally: NIOLockedValueBox<Tally>, until end: Date) async {
        let stream = Int.random(in: 0..<max(target.streams, 1))
        let url = target.url(stream: stream)
        let stay = min(Double.random(in: 0.2...(2 * lifetime)), max(0, end.timeIntervalSinceNow))
        let player: any BenchPlayer
        do {
            player = try await connectPlayer(url: url, protocol: target.resolvedProtocol, group: group, measureLatency: false)
        } catch {
            tally.withLockedValue { $0.connects += 1; $0.failures += 1 }
            try? await Task.sleep(nanoseconds: 200_000_000)
            return
        }
        try? await Task.sleep(nanoseconds: UInt64(stay * 1e9))
        let s = player.stats
        await player.close()
        tally.withLockedValue {
            $0.connects += 1
            $0.bytes += s.bytes
            $0.videoFrames += s.videoFrames
            if s.status == 404 {
                $0.notFound += 1
            } else if s.error != nil || (s.status != nil && !s.statusOK) {
                $0.failures += 1
                if $0.failures <= 5 {
                    FileHandle.standardError.write(Data("player failed (\(url)): \(s.error ?? "status \(s.status ?? 0)")\n".utf8))
                }
            } else if s.closed {
                $0.endedByServer += 1
            }
        }
    }
}

struct Sample: Sendable {
    var t: Double
    var rss: Int
    var fds: Int
}

struct Tally: Sendable {
    var connects = 0
    var failures = 0
    var notFound = 0
    var endedByServer = 0
    var videoFrames = 0
    var bytes = 0
}
