import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore

/// `relay-bench play`: N players of one or many streams, ramped, for a duration; every byte parsed.
struct PlayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "play",
        abstract: "Run N players and report delivered Mb/s, failures, time to first frame, server CPU/RSS.")

    @OptionGroup var target: PlayerTargetOptions

    @Option(help: "Number of players.")
    var players: Int = 10

    @Option(help: "Players started per second (0 = all at once).")
    var ramp: Double = 0

    @Option(help: "Seconds to run after the last player started.")
    var duration: Double = 10

    @Flag(help: "Read relay-camera --stamp capture stamps from the video and report glass-to-glass latency.")
    var latency = false

    @Option(help: "WHEP: drop this percentage of the video packets on arrival (a lossy link; the relay retransmits on NACK).")
    var dropVideoPercent = 0

    @Option(help: "Extra players that stop reading --stall-after seconds into the measurement (slow viewers); the others' frame rate and gaps are reported before and during.")
    var stall = 0

    @Option(help: "Seconds into the measurement at which the --stall players stop reading.")
    var stallAfter: Double = 5

    @Option(help: "SO_RCVBUF of the --stall players, bytes (small: the server sees them back up sooner).")
    var stallReceiveBuffer = 16384

    func run() async throws {
        try await withEventLoopGroup(threads: target.threads) { try await play(group: $0) }
    }

    private func play(group: MultiThreadedEventLoopGroup) async throws {
        let startSample = target.pid.flatMap { ProcStat(pid: $0) }
        let selfStart = ProcStat(pid: getpid())
        let began = Date()

        var list: [any BenchPlayer] = []
        var connectFailures = 0
        var connectError: String?
        for i in 0..<players {
            if ramp > 0 && i > 0 { try await Task.sleep(nanoseconds: UInt64(1e9 / ramp)) }
            let url = target.url(stream: i)
            do {
                list.append(try await connectPlayer(url: url, protocol: target.resolvedProtocol, group: group, measureLatency: latency,
                                                    dropVideoPercent: dropVideoPercent))
            } catch {
                connectFailures += 1
                if connectError == nil { connectError = "\(error)" }
            }
        }
        var stalled: [any BenchPlayer] = []
        for i in 0..<stall {
            let url = target.url(stream: i)
            do {
                stalled.append(try await connectPlayer(url: url, protocol: target.resolvedProtocol, group: group, measureLatency: false,
                                                       receiveBufferBytes: stallReceiveBuffer))
            } catch {
                connectFailures += 1
            }
        }
        // Warm-up: every player past its start-up burst (first frame in, or failed) before measuring,
        // so the GOP cache replay is not counted as live delivery.
        let warmUntil = Date().addingTimeInterval(10)
        while Date() < warmUntil, list.contains(where: { let s = $0.stats; return s.firstVideoAt == nil && !s.closed && s.error == nil }) {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        for s in list.map(\.stats) where !s.milestones.isEmpty && (s.timeToFirstFrame ?? .zero) > .milliseconds(100) {
            FileHandle.standardError.write(Data("slow first frame: \(s.startupTrace)\n".utf8))
        }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let measureFrom = Date()
        let bytesAtStart = list.map(\.stats.bytes)
        let latencyCountAtStart = list.map(\.stats.latenciesMicros.count)
        let cpuAtStart = target.pid.flatMap { ProcStat(pid: $0) }
        var windows: [(String, String)] = []
        if stall > 0 {
            // Frame rate and gaps of the reading players before and while the --stall players stop.
            let before = try await window(list, seconds: min(stallAfter, duration))
            for p in stalled { await p.stall() }
            let during = try await window(list, seconds: max(duration - stallAfter, 0))
            // A stalled player cannot see the server close it (its FIN waits behind the unread
            // bytes): read again, drain, and count the ones that reach the end of their stream.
            let framesAtResume = stalled.map(\.stats.videoFrames)
            for p in stalled { await p.resume() }
            let resumeUntil = Date().addingTimeInterval(5)
            while Date() < resumeUntil, !stalled.allSatisfy({ $0.stats.closed }) {
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            let ended = stalled.filter { $0.stats.closed }.count
            let resumed = zip(stalled, framesAtResume).filter { p, n in !p.stats.closed && p.stats.videoFrames > n }.count
            windows = before.report(prefix: "before") + during.report(prefix: "during") + [
                ("stalled_players", "\(stalled.count)"),
                ("stalled_ended_by_server", "\(ended)"),
                ("stalled_playing_after_resume", "\(resumed)"),
            ]
        } else {
            try await Task.sleep(nanoseconds: UInt64(duration * 1e9))
        }
        let stats = list.map(\.stats)
        let cpuAtEnd = target.pid.flatMap { ProcStat(pid: $0) }
        let seconds = Date().timeIntervalSince(measureFrom)
        for p in list + stalled { await p.close() }
        // Memory given back once the players are gone: read after the relay's memory trimmer
        // (which looks every 5 s) has had a look.
        var rssAfterClose: Int?
        if let pid = target.pid {
            try await Task.sleep(nanoseconds: 6_000_000_000)
            rssAfterClose = ProcStat(pid: pid)?.rssBytes
        }

        let perPlayer = zip(stats, bytesAtStart).map { $0.bytes - $1 }
        let bytes = perPlayer.reduce(0, +)
        let latencies = zip(stats, latencyCountAtStart).flatMap { s, n in s.latenciesMicros.dropFirst(n).map { Double($0) / 1000 } }
        let failures = connectFailures + stats.filter { $0.error != nil || !$0.statusOK || $0.closed || $0.videoFrames == 0 }.count
        let ttff = stats.compactMap { $0.timeToFirstFrame.map { Double($0.nanoseconds) / 1e6 } }
        let mbps = Double(bytes) * 8 / seconds / 1e6
        var report: [(String, String)] = [
            ("players", "\(players)"), ("streams", "\(target.streams)"), ("failures", "\(failures)"),
            ("delivered_mbps", String(format: "%.1f", mbps)),
            ("min_player_mbps", perPlayer.min().map { String(format: "%.3f", Double($0) * 8 / seconds / 1e6) } ?? "-"),
            ("ttff_p50_ms", percentile(ttff, 50).map { String(format: "%.1f", $0) } ?? "-"),
            ("ttff_p99_ms", percentile(ttff, 99).map { String(format: "%.1f", $0) } ?? "-"),
            ("max_frame_gap_ms", String(format: "%.0f", stats.map { Double($0.maxVideoGap.nanoseconds) / 1e6 }.max() ?? 0)),
            ("video_frames", "\(stats.reduce(0) { $0 + $1.videoFrames })"),
        ]
        report += windows
        let whep = list.compactMap { $0 as? WHEPPlayer }
        if !whep.isEmpty { report += whepReport(whep) }
        if latency {
            report += [
                ("g2g_frames", "\(latencies.count)"),
                ("g2g_p50_ms", percentile(latencies, 50).map { String(format: "%.1f", $0) } ?? "-"),
                ("g2g_p95_ms", percentile(latencies, 95).map { String(format: "%.1f", $0) } ?? "-"),
                ("g2g_p99_ms", percentile(latencies, 99).map { String(format: "%.1f", $0) } ?? "-"),
            ]
        }
        if let a = cpuAtStart, let b = cpuAtEnd {
            let cpu = b.cpuSeconds - a.cpuSeconds
            report += [
                ("server_cpu_s", String(format: "%.2f", cpu)),
                ("server_cpu_pct", String(format: "%.1f", cpu / seconds * 100)),
                ("server_cpu_s_per_gb", bytes > 0 ? String(format: "%.3f", cpu / (Double(bytes) / 1e9)) : "-"),
                ("server_rss_mib", String(format: "%.1f", Double(b.rssBytes) / 1048576)),
                ("server_peak_rss_mib", String(format: "%.1f", Double(b.peakRSSBytes) / 1048576)),
            ]
            if let s = startSample { report.append(("server_rss_before_mib", String(format: "%.1f", Double(s.rssBytes) / 1048576))) }
            if let r = rssAfterClose { report.append(("server_rss_after_close_mib", String(format: "%.1f", Double(r) / 1048576))) }
        }
        if let a = selfStart, let b = ProcStat(pid: getpid()) {
            report.append(("bench_cpu_pct", String(format: "%.1f", (b.cpuSeconds - a.cpuSeconds) / Date().timeIntervalSince(began) * 100)))
        }
        if let firstError = connectError ?? stats.lazy.compactMap({ $0.error ?? ($0.statusOK ? nil : $0.status.map { "status \($0)" } ?? "no status") }).first,
           failures > 0 {
            report.append(("first_error", firstError.replacingOccurrences(of: "\"", with: "'")))
        }
        report.append(("seconds", String(format: "%.1f", seconds)))
        let width = report.map(\.0.count).max() ?? 0
        for (k, v) in report { print(k.padding(toLength: width, withPad: " ", startingAt: 0), v) }
        let json = report.map { k, v in Double(v) != nil ? "\"\(k)\":\(v)" : "\"\(k)\":\"\(v)\"" }.joined(separator: ",")
        print("{\(json)}")
        if failures > 0 { throw ExitCode(1) }
    }
}

extension PlayCommand {
    /// Frames and gaps of `players` over the next `seconds`.
    fileprivate func window(_ players: [any BenchPlayer], seconds: Double) async throws -> FrameWindow {
        for p in players { p.startWindow() }
        let from = NIODeadline.now()
        try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        let now = NIODeadline.now()
        let elapsed = Double((now - from).nanoseconds) / 1e9
        let stats = players.map(\.stats).filter { !$0.closed && $0.error == nil }
        return FrameWindow(fps: stats.map { Double($0.windowVideoFrames) / elapsed },
                           maxGapsMs: stats.map { Double($0.windowMaxVideoGap(until: now).nanoseconds) / 1e6 },
                           lost: players.count - stats.count)
    }
}

/// WHEP's own lines: the first frame counted from the SDP answer (what a page sees after
/// setRemoteDescription), and the transport's repairs.
private func whepReport(_ players: [WHEPPlayer]) -> [(String, String)] {
    let fromAnswer = players.compactMap { $0.answerToFirstFrame.map { Double($0.nanoseconds) / 1e6 } }
    let transport = players.map(\.transport)
    return [
        ("ttff_after_answer_p50_ms", percentile(fromAnswer, 50).map { String(format: "%.1f", $0) } ?? "-"),
        ("ttff_after_answer_p99_ms", percentile(fromAnswer, 99).map { String(format: "%.1f", $0) } ?? "-"),
        ("nacked_packets", "\(transport.reduce(0) { $0 + $1.nackedPackets })"),
        ("dropped_frames", "\(transport.reduce(0) { $0 + $1.droppedFrames })"),
        ("srtp_dropped", "\(transport.reduce(0) { $0 + $1.srtpDropped })"),
        ("injected_losses", "\(transport.reduce(0) { $0 + $1.injectedLosses })"),
        ("retransmissions_received", "\(transport.reduce(0) { $0 + $1.retransmissionsReceived })"),
    ]
}

/// What the reading players saw in one measurement window.
struct FrameWindow {
    var fps: [Double]
    /// Each player's largest gap between two video frames in the window.
    var maxGapsMs: [Double]
    /// Players that closed or failed during the window.
    var lost: Int

    func report(prefix: String) -> [(String, String)] {
        [
            ("\(prefix)_fps_min", fps.min().map { String(format: "%.1f", $0) } ?? "-"),
            ("\(prefix)_fps_mean", fps.isEmpty ? "-" : String(format: "%.1f", fps.reduce(0, +) / Double(fps.count))),
            ("\(prefix)_gap_p50_ms", percentile(maxGapsMs, 50).map { String(format: "%.0f", $0) } ?? "-"),
            ("\(prefix)_gap_p99_ms", percentile(maxGapsMs, 99).map { String(format: "%.0f", $0) } ?? "-"),
            ("\(prefix)_gap_max_ms", maxGapsMs.max().map { String(format: "%.0f", $0) } ?? "-"),
            ("\(prefix)_players_lost", "\(lost)"),
        ]
    }
}

extension PlayerStats {
    /// 200, 101 for a WebSocket player whose upgrade succeeded, 201 for a WHEP session created.
    var statusOK: Bool { status == 200 || status == 101 || status == 201 }
}

/// The players relay-bench can run; each parses everything it receives.
protocol BenchPlayer: Sendable {
    var stats: PlayerStats { get }
    func close() async
    func startWindow()
    func stall() async
    func resume() async
}

extension HTTPFLVPlayer: BenchPlayer {}
extension RTMPPlayer: BenchPlayer {}
extension RTSPPlayer: BenchPlayer {}
extension WebSocketPlayer: BenchPlayer {}
extension FMP4Player: BenchPlayer {}
extension HLSPlayer: BenchPlayer {}
extension WHEPPlayer: BenchPlayer {}

func connectPlayer(url: String, protocol proto: PlayerProtocol? = nil, group: any EventLoopGroup, measureLatency: Bool,
                   receiveBufferBytes: Int = 0, dropVideoPercent: Int = 0) async throws -> any BenchPlayer {
    switch proto ?? PlayerProtocol(url: url) {
    case .rtmp:
        return try await RTMPPlayer.connect(url: url, group: group, measureLatency: measureLatency,
                                            receiveBufferBytes: receiveBufferBytes)
    case .rtsp:
        return try await RTSPPlayer.connect(url: url, group: group, measureLatency: measureLatency,
                                            receiveBufferBytes: receiveBufferBytes)
    case .flv:
        let target = try HTTPTarget(url)
        return try await HTTPFLVPlayer.connect(host: target.host, port: target.port, path: target.path, group: group,
                                               measureLatency: measureLatency, receiveBufferBytes: receiveBufferBytes)
    case .wsFLV, .wsFMP4:
        let target = try HTTPTarget(url)
        return try await WebSocketPlayer.connect(host: target.host, port: target.port, path: target.path,
                                                 payload: proto == .wsFMP4 || (proto == nil && PlayerProtocol(url: url) == .wsFMP4) ? .fmp4 : .flv,
                                                 group: group, measureLatency: measureLatency, receiveBufferBytes: receiveBufferBytes)
    case .fmp4:
        let target = try HTTPTarget(url)
        return try await FMP4Player.connect(host: target.host, port: target.port, path: target.path, group: group,
                                            receiveBufferBytes: receiveBufferBytes)
    case .hls:
        let target = try HTTPTarget(url)
        return try await HLSPlayer.connect(host: target.host, port: target.port, path: target.path, group: group,
                                           receiveBufferBytes: receiveBufferBytes)
    case .whep:
        let target = try HTTPTarget(url)
        return try await WHEPPlayer.connect(host: target.host, port: target.port, path: target.path, group: group,
                                            measureLatency: measureLatency, receiveBufferBytes: receiveBufferBytes,
                                            dropVideoPercent: dropVideoPercent)
    }
}

struct HTTPTarget {
    let host: String
    let port: Int
    let path: String

    init(_ url: String) throws {
        guard let scheme = ["http://", "ws://"].first(where: url.hasPrefix) else {
            throw ValidationError("URL must be http://…, ws://…, rtmp://… or rtsp://…")
        }
        let rest = url.dropFirst(scheme.count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let hostPort = rest[..<slash]
        path = String(rest[slash...])
        if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            port = Int(hostPort[hostPort.index(after: colon)...]) ?? 80
        } else {
            host = String(hostPort)
            port = 80
        }
    }
}
