import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayTestSupport
import Testing

/// HTTP hooks against hooks/example_hook_server.py (a real HTTP server in a child process),
/// with real ffmpeg/ffprobe on the media side.
@Suite(.serialized)
struct HookTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    func ffprobe(_ url: String) async throws -> (status: Int32?, out: String, err: String) {
        try await ChildProcess.run("ffprobe", ["-v", "error", "-rw_timeout", "10000000", "-show_entries", "stream=codec_name",
                                              "-of", "compact", url], timeout: 20)
    }

    func waitGone(_ server: TestServer, _ stream: String, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if server.server.context.registry.source(stream) == nil { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return server.server.context.registry.source(stream) == nil
    }

    @Test func tokenAuthRefusesAndAllowsPublishAndPlay() async throws {
        let hooks = try await HookServer.start(["--secret", "s3"])
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_publish": "\#(hooks.url)", "on_play": "\#(hooks.url)"}"#)
        let media = try await TestMedia.shared.h264AACFLV()

        // Wrong token: ffmpeg is refused with the reason and exits non-zero.
        let refused = try await ChildProcess.run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-re", "-i", media, "-t", "3", "-c", "copy", "-f", "flv",
            server.rtmpURL("live/auth?token=wrong"),
        ], timeout: 20)
        #expect(refused.status != nil && refused.status != 0, "ffmpeg exit \(String(describing: refused.status))")
        #expect(refused.err.contains("publish denied"), "\(refused.err)")
        #expect(server.server.context.registry.source("live/auth") == nil)

        let publisher = try await server.publishPlayable(media, stream: "live/auth?token=s3")
        defer { publisher.terminate() }

        let publishes = hooks.events("on_publish")
        #expect(publishes.count == 2)
        let allowed = try #require(publishes.first { ($0["params"] as? [String: String])?["token"] == "s3" })
        #expect(allowed["_status"] as? Int == 200)
        #expect(allowed["stream"] as? String == "live/auth")
        #expect(allowed["protocol"] as? String == "rtmp")
        #expect((allowed["remote_addr"] as? String)?.hasPrefix("127.0.0.1:") == true)
        #expect((allowed["session_id"] as? String)?.isEmpty == false)

        // Play with a wrong token: HTTP-FLV 401 (the hook answered 401), RTMP an error status.
        let flvDenied = try await ffprobe(server.flvURL("live/auth") + "?token=wrong")
        #expect(flvDenied.status != 0)
        #expect(flvDenied.err.contains("401"), "\(flvDenied.err)")
        let rtmpDenied = try await ffprobe(server.rtmpURL("live/auth?token=wrong"))
        #expect(rtmpDenied.status != 0)
        #expect(rtmpDenied.err.contains("play denied"), "\(rtmpDenied.err)")

        for url in [server.flvURL("live/auth") + "?token=s3", server.rtmpURL("live/auth?token=s3")] {
            let ok = try await ffprobe(url)
            #expect(ok.status == 0, "\(url): \(ok.err)")
            #expect(ok.out.contains("codec_name=h264"), "\(url): \(ok.out)")
        }
        let plays = hooks.events("on_play")
        #expect(plays.contains { $0["protocol"] as? String == "flv" && $0["_status"] as? Int == 401 })
        #expect(plays.contains { $0["protocol"] as? String == "rtmp" && $0["_status"] as? Int == 200 })
        await server.stop()
    }

    @Test func hookServerDownDeniesUnlessFailOpen() async throws {
        let refusing = try LoopbackSocket(listening: false)  // bound, not listening: connections are refused
        defer { refusing.close() }
        let dead = "http://127.0.0.1:\(refusing.port)/hooks"
        let server = try await TestServer.start(
            #""hooks": {"on_publish": {"url": "\#(dead)", "fail_open": true}, "on_play": "\#(dead)"}"#)
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try server.publish(media, stream: "live/down")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/down"), "fail-open on_publish lets the publisher in")

        let flv = try await ffprobe(server.flvURL("live/down"))
        #expect(flv.status != 0)
        #expect(flv.err.contains("403"), "fail-closed on_play: \(flv.err)")
        let rtmp = try await ffprobe(server.rtmpURL("live/down"))
        #expect(rtmp.status != 0, "\(rtmp.out)")
        #expect(await server.log.eventually("denied"))
        await server.stop()
    }

    /// A hook server slower than the timeout: sessions get their answer at the timeout (+200 ms
    /// at most, as the relay measures it from the request to the decision applied on the
    /// connection's event loop) and a stream already playing keeps its frame cadence meanwhile.
    @Test func aSlowHookIsBoundedByItsTimeoutAndDisturbsNoOne() async throws {
        let slow = try await HookServer.start(["--delay-ms", "2500"])
        defer { slow.stop() }
        let timeout = 800
        let server = try await TestServer.start(
            #""hooks": {"on_play": {"url": "\#(slow.url)", "timeout_ms": \#(timeout), "fail_open": true}}"#)
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/slow")
        defer { publisher.terminate() }

        let watcher = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/slow.flv", group: Self.group)
        let first = await watcher.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        let firstMs = first.timeToFirstFrame.map { $0.nanoseconds / 1_000_000 } ?? -1
        #expect(first.status == 200)
        #expect(firstMs >= Int64(timeout) - 10, "the first player waited \(firstMs) ms for the fail-open timeout")
        try await Task.sleep(nanoseconds: 300_000_000)
        let before = watcher.stats

        // Eight more players join while the hook sleeps; each is let in (fail-open) at the timeout.
        let port = server.httpPort
        let joinMs = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let start = NIODeadline.now()
                    let p = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: port, path: "/live/slow.flv", group: Self.group)
                    let answered = await p.wait(timeout: .seconds(5)) { $0.status != nil }
                    let answerMs = (NIODeadline.now() - start).nanoseconds / 1_000_000
                    let s = await p.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
                    await p.close()
                    return answered.status == 200 && s.videoFrames > 0 ? answerMs : -1
                }
            }
            var all: [Int64] = []
            for try await ms in group { all.append(ms) }
            return all.sorted()
        }
        try await Task.sleep(nanoseconds: 300_000_000)
        let watched = watcher.stats
        await watcher.close()

        let decided = Self.loggedMs(server, "on_play decision for live/slow after ").sorted()
        #expect(decided.count == 9, "\(decided)")
        #expect(decided.allSatisfy { $0 >= Double(timeout) - 5 && $0 <= Double(timeout) + 200 }, "decisions after \(decided) ms")
        #expect(joinMs.allSatisfy { $0 >= Int64(timeout) - 10 && $0 <= Int64(timeout) + 1000 }, "answered (as the players saw it) after \(joinMs) ms")
        // A hook that held an event loop would stop the watcher for the timeout (800 ms) or more.
        let gapMs = watched.maxVideoGap.nanoseconds / 1_000_000
        #expect(watched.error == nil)
        #expect(watched.videoFrames - before.videoFrames >= 15, "frames while the others joined: \(watched.videoFrames - before.videoFrames)")
        #expect(gapMs < 500, "largest gap between frames of the player already watching: \(gapMs) ms")
        print("slow hook: decisions after \(decided.map { Int($0) }) ms, joiners answered after \(joinMs) ms, watcher's largest frame gap \(gapMs) ms")

        // Fail-closed: refused (403) at the timeout; no stream is needed to ask.
        let closed = try await TestServer.start(#""hooks": {"on_play": {"url": "\#(slow.url)", "timeout_ms": \#(timeout)}}"#)
        let start = NIODeadline.now()
        let refused = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: closed.httpPort, path: "/live/none.flv", group: Self.group)
        let answer = await refused.wait(timeout: .seconds(5)) { $0.status != nil }
        let refusedMs = (NIODeadline.now() - start).nanoseconds / 1_000_000
        await refused.close()
        #expect(answer.status == 403)
        let refusedDecision = Self.loggedMs(closed, "on_play decision for live/none after ")
        #expect(refusedDecision.count == 1 && refusedDecision.allSatisfy { $0 >= Double(timeout) - 5 && $0 <= Double(timeout) + 200 },
                "refused after \(refusedDecision) ms (client saw \(refusedMs) ms)")
        #expect(refusedMs >= Int64(timeout) - 10 && refusedMs <= Int64(timeout) + 1000, "refused after \(refusedMs) ms")
        await closed.stop()
        await server.stop()
    }

    /// Milliseconds from the server's debug lines "<prefix><ms> ms…".
    static func loggedMs(_ server: TestServer, _ prefix: String) -> [Double] {
        server.log.lines.compactMap { line -> Double? in
            guard let r = line.range(of: prefix) else { return nil }
            return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
    }

    @Test func doneHooksCarryTheirFields() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(
            #""hooks": {"on_publish_done": "\#(hooks.url)", "on_play_done": "\#(hooks.url)", "on_started": "\#(hooks.url)"}"#)
        let started = await hooks.wait(for: "on_started")
        #expect((started.first?["ports"] as? [String: Int])?["http_flv"] == server.httpPort)

        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/done?src=cam")
        defer { publisher.terminate() }

        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/done.flv?viewer=7", group: Self.group)
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let seen = player.stats
        await player.close()

        let playDone = try #require(await hooks.wait(for: "on_play_done").first)
        #expect(playDone["stream"] as? String == "live/done")
        #expect(playDone["protocol"] as? String == "flv")
        #expect(playDone["kind"] as? String == "flv")
        #expect(playDone["reason"] as? String == "player left")
        #expect((playDone["params"] as? [String: String])?["viewer"] == "7")
        #expect((playDone["remote_addr"] as? String)?.hasPrefix("127.0.0.1:") == true)
        #expect((playDone["session_id"] as? String)?.isEmpty == false)
        let sent = try #require(playDone["bytes_sent"] as? Int)
        #expect(sent > 0 && sent >= seen.bytes / 2, "bytes_sent \(sent), player read \(seen.bytes)")
        let playMs = try #require(playDone["duration_ms"] as? Int)
        #expect(playMs >= 900 && playMs < 5000, "duration_ms \(playMs)")

        publisher.terminate()
        let publishDone = try #require(await hooks.wait(for: "on_publish_done").first)
        #expect(publishDone["stream"] as? String == "live/done")
        #expect(publishDone["protocol"] as? String == "rtmp")
        #expect((publishDone["params"] as? [String: String])?["src"] == "cam")
        #expect((publishDone["reason"] as? String)?.contains("publisher") == true, "\(publishDone)")
        #expect((publishDone["bytes_in"] as? Int ?? 0) > 100_000)
        #expect((publishDone["packets_in"] as? Int ?? 0) > 10)
        #expect((publishDone["duration_ms"] as? Int ?? 0) >= 1000)
        await server.stop()
    }

    enum Timer: String, Sendable, CaseIterable { case receive, idle }

    /// `receive_timeout` (publisher stopped with SIGSTOP) and `idle_timeout` (no players) close
    /// the source and fire their hook, unless the hook answers `{"keep": true}`; without a hook
    /// the configured action applies.
    @Test(arguments: [(Timer.receive, "close"), (.receive, "keep"), (.idle, "close"), (.idle, "keep"), (.idle, "no-hook")])
    func timersCloseTheSourceUnlessKept(timer: Timer, answer: String) async throws {
        let hooks = try await HookServer.start(answer == "keep" ? ["--keep"] : [])
        defer { hooks.stop() }
        let event = timer == .receive ? "on_receive_timeout" : "on_idle_timeout"
        let timeoutMs = 1200
        let source = timer == .receive
            ? #""receive_timeout_ms": \#(timeoutMs), "idle_timeout_ms": 0"#
            : #""idle_timeout_ms": \#(timeoutMs), "idle_timeout_action": "close", "receive_timeout_ms": 0"#
        let hook = answer == "no-hook" ? "" : #", "\#(event)": "\#(hooks.url)""#
        let server = try await TestServer.start(#""source": {\#(source)}, "hooks": {"on_publish_done": "\#(hooks.url)"\#(hook)}"#)
        let media = try await TestMedia.shared.h264AACFLV()
        let publishedAt = Date()
        let publisher = try server.publish(media, stream: "live/timer")
        defer {
            publisher.signal(SIGCONT)
            publisher.terminate()
        }
        #expect(await server.waitPlayable("live/timer"))
        var from = publishedAt
        if timer == .receive {
            try await Task.sleep(nanoseconds: 300_000_000)
            publisher.signal(SIGSTOP)
            from = Date()
        }

        if answer == "keep" {
            try await Task.sleep(nanoseconds: UInt64(timeoutMs) * 2_500_000)
            #expect(server.server.context.registry.source("live/timer") != nil, "kept")
            #expect(hooks.events(event).count >= 2, "asked again after each timeout: \(hooks.events(event).count)")
            #expect(hooks.events("on_publish_done").isEmpty)
        } else {
            #expect(await waitGone(server, "live/timer", seconds: 6))
            let closedAfter = Date().timeIntervalSince(from) * 1000
            #expect(closedAfter >= Double(timeoutMs) - 50 && closedAfter < Double(timeoutMs) + 1500,
                    "closed \(Int(closedAfter)) ms after the \(timer) timer started")
            if answer == "close" {
                let asked = try #require(hooks.events(event).first)
                #expect(asked["stream"] as? String == "live/timer")
                #expect(asked["protocol"] as? String == "rtmp")
                #expect(asked["timeout_ms"] as? Int == timeoutMs)
            }
            let done = try #require(await hooks.wait(for: "on_publish_done").first)
            let reason = done["reason"] as? String ?? ""
            #expect(reason.contains(timer == .receive ? "no media" : "no players"), "\(reason)")
        }
        await server.stop()
    }

    /// The on_publish answer `{"record": true}` records; rotation on key frames; on_record fields;
    /// ffprobe reads back the durations.
    @Test func recordingRotatesAndPlaysBackWithTheRightDuration() async throws {
        let hooks = try await HookServer.start(["--record"])
        defer { hooks.stop() }
        let dir = NSTemporaryDirectory() + "liverelay-rec-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try await TestServer.start(
            #""hooks": {"on_publish": "\#(hooks.url)", "on_record": "\#(hooks.url)"}, "record": {"dir": "\#(dir)", "segment_ms": 5000}"#)
        let media = try await TestMedia.shared.h264AACFLV()  // 12 s, a key frame every 2 s
        // 4× real time: file durations are media time, not wall time (a burst would end in a
        // reset that drops the tail of the stream in the kernel).
        let push = try await ChildProcess.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-readrate", "4", "-i", media, "-c", "copy",
                                                         "-f", "flv", server.rtmpURL("live/rec")], timeout: 60)
        #expect(push.status == 0, "\(push.err)")

        let records = await hooks.wait(for: "on_record", count: 2, seconds: 15)
        #expect(records.count == 2, "\(records)")
        var total = 0.0
        for record in records.sorted(by: { ($0["start_ms"] as? Double ?? 0) < ($1["start_ms"] as? Double ?? 0) }) {
            let path = try #require(record["path"] as? String)
            #expect(path.hasPrefix(dir + "/live/rec/") && path.hasSuffix(".flv"), "\(path)")
            #expect(record["stream"] as? String == "live/rec")
            #expect(record["protocol"] as? String == "rtmp")
            #expect((record["file"] as? String)?.hasPrefix("live/rec/") == true)
            #expect((record["start_time"] as? String)?.hasSuffix("Z") == true)
            let size = try #require(record["size"] as? Int)
            let onDisk = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
            #expect(size == onDisk && size > 100_000, "size \(size), on disk \(onDisk)")
            let reportedMs = try #require(record["duration_ms"] as? Int)
            let probe = try await ChildProcess.run("ffprobe", ["-v", "error", "-show_entries", "format=duration",
                                                              "-of", "default=nw=1:nk=1", path], timeout: 20)
            let seconds = try #require(Double(probe.out.trimmingCharacters(in: .whitespacesAndNewlines)), "\(probe.out) \(probe.err)")
            #expect(abs(seconds - Double(reportedMs) / 1000) < 1.0, "\(path): ffprobe \(seconds) s, on_record \(reportedMs) ms")
            #expect(seconds > 4 && seconds < 8, "rotated near 5 s on a key frame: \(seconds) s")
            total += seconds
        }
        #expect(abs(total - 12) < 1.0, "recorded \(total) s of a 12 s clip")
        #expect(Set(records.compactMap { $0["reason"] as? String }) == ["rotated", "stream ended"])

        // The rotated file decodes cleanly from its first frame.
        if let second = records.first(where: { $0["reason"] as? String == "stream ended" })?["path"] as? String {
            let decode = try await ChildProcess.run("ffmpeg", ["-v", "error", "-i", second, "-f", "null", "-"], timeout: 60)
            #expect(decode.status == 0 && decode.err.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(decode.err)")
        }

        // A stream still live when the server stops: its file is closed and on_record sent before stop returns.
        let live = try await server.publishPlayable(media, stream: "live/rec2")
        defer { live.terminate() }
        try await Task.sleep(nanoseconds: 1_500_000_000)
        await server.stop()
        let atStop = await hooks.wait(for: "on_record", seconds: 3) { $0["stream"] as? String == "live/rec2" }
        let last = try #require(atStop.first)
        let path = try #require(last["path"] as? String)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect((last["duration_ms"] as? Int ?? 0) >= 1000, "\(last)")
    }

    /// Many players joining at once with on_play on: all get frames; times to first frame printed.
    /// LIVERELAY_HOOK_BENCH=1 runs 100 players and measures the added latency of an allowing hook.
    @Test func manyPlayersJoinAtOnceWithHooks() async throws {
        let bench = ProcessInfo.processInfo.environment["LIVERELAY_HOOK_BENCH"] != nil
        let count = bench ? 100 : 25
        let hooks = try await HookServer.start(["--secret", "s3"])
        defer { hooks.stop() }
        let server = try await TestServer.start(
            #""hooks": {"on_publish": "\#(hooks.url)", "on_play": "\#(hooks.url)", "on_play_done": "\#(hooks.url)"}"#)
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try await server.publishPlayable(media, stream: "live/many?token=s3")
        defer { publisher.terminate() }

        let results = try await Self.joinAtOnce(count, port: server.httpPort, path: "/live/many.flv?token=s3")
        let times = results.compactMap(\.1).sorted()
        #expect(results.allSatisfy { $0.0 == 200 }, "statuses \(results.map(\.0))")
        #expect(times.count == count, "\(times.count) of \(count) players got frames")
        print("\(count) players joining at once with on_play: \(times.count) got frames, time to first frame \(Self.percentiles(times))")
        _ = await hooks.wait(for: "on_play_done", count: count, seconds: 10)
        #expect(hooks.events("on_play").count == count)
        #expect(hooks.events("on_play_done").count == count)

        if bench {
            // The hook round trips as the relay measured them (queueing for a connection included).
            let hookMs = server.log.lines.compactMap { line -> Int64? in
                guard line.contains("on_play for live/many"), let r = line.range(of: "allowed: HTTP 200 in ") else { return nil }
                return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." }).map { Int64($0) }
            }.sorted()
            print("on_play round trips during the join: n=\(hookMs.count), \(Self.percentiles(hookMs))")
            try await measureAddedLatency(server: server, media: media)
        }
        await server.stop()
    }

    static func joinAtOnce(_ count: Int, port: Int, path: String) async throws -> [(Int?, Int64?)] {
        try await withThrowingTaskGroup(of: (Int?, Int64?).self) { group in
            for _ in 0..<count {
                group.addTask {
                    let p = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: port, path: path, group: Self.group)
                    let s = await p.wait(timeout: .seconds(10)) { $0.videoFrames > 0 }
                    await p.close()
                    return (s.status, s.timeToFirstFrame.map { $0.nanoseconds / 1_000_000 })
                }
            }
            var all: [(Int?, Int64?)] = []
            for try await r in group { all.append(r) }
            return all
        }
    }

    static func percentiles(_ sorted: [Int64]) -> String {
        guard !sorted.isEmpty else { return "-" }
        return "p50 \(sorted[sorted.count / 2]) ms, p99 \(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) ms, max \(sorted.last!) ms"
    }

    /// Added latency of an allowing hook: play = time to first frame with on_play minus without
    /// (same stream, alternating); publish = the relay's own measure from the RTMP publish command
    /// to the decision being applied (without a hook that step is synchronous).
    func measureAddedLatency(server: TestServer, media: String) async throws {
        let plain = try await TestServer.start()
        let plainPublisher = try plain.publish(media, stream: "live/plain")
        defer { plainPublisher.terminate() }
        #expect(await plain.waitPlayable("live/plain"))
        try await Task.sleep(nanoseconds: 500_000_000)
        var with: [Double] = [], without: [Double] = []
        for _ in 0..<15 {
            for (srv, path) in [(server, "/live/many.flv?token=s3"), (plain, "/live/plain.flv")] {
                let p = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: srv.httpPort, path: path, group: Self.group)
                let s = await p.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
                await p.close()
                let ms = Double(s.timeToFirstFrame?.nanoseconds ?? 0) / 1e6
                if srv === server { with.append(ms) } else { without.append(ms) }
            }
        }
        for i in 0..<12 {
            let r = try await ChildProcess.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", media, "-t", "0.3",
                                                          "-c", "copy", "-f", "flv", server.rtmpURL("live/lat\(i)?token=s3")], timeout: 30)
            #expect(r.status == 0, "\(r.err)")
        }
        let decisions = server.log.lines.compactMap { line -> Double? in
            guard line.contains("on_publish decision for live/lat"), let r = line.range(of: "after ") else { return nil }
            return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }.sorted()
        func median(_ a: [Double]) -> Double { a.isEmpty ? -1 : a.sorted()[a.count / 2] }
        print(String(format: "play TTFF median with on_play %.2f ms, without %.2f ms (added %.2f ms, n=%d)",
                     median(with), median(without), median(with) - median(without), with.count))
        print(String(format: "on_publish added latency (publish command → decision applied) median %.2f ms, max %.2f ms, n=%d",
                     median(decisions), decisions.last ?? -1, decisions.count))
        // The same join without hooks, for comparison.
        let plainJoin = try await Self.joinAtOnce(100, port: plain.httpPort, path: "/live/plain.flv")
        let plainTimes = plainJoin.compactMap(\.1).sorted()
        print("100 players joining at once without hooks: \(plainTimes.count) got frames, time to first frame \(Self.percentiles(plainTimes))")
        await plain.stop()
    }
}
