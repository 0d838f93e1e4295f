import Foundation
import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayPull

@Suite struct PullBackoffTests {
    /// The waits between attempts that keep failing: doubling from the minimum up to the maximum.
    static func retryDelays(random: Double, failures: Int) throws -> [Int64] {
        let h = try PullHarness(["reconnect_min_ms": .number(500), "reconnect_max_ms": .number(4000)], random: random)
        try h.manager.add(PullSpec(stream: "live/cam", url: "rtmp://192.0.2.1/live/cam"))
        h.loop.run()
        var delays: [Int64] = []
        for i in 0..<failures {
            h.script.attempts[i].promise.fail(PullError.invalid("refused"))
            h.loop.run()
            let failedAt = h.loop.now
            var waited: Int64 = 0
            while h.script.attempts.count == i + 1, waited < 10_000 {
                h.loop.advance(by: .milliseconds(1))
                waited += 1
            }
            delays.append((h.loop.now - failedAt).nanoseconds / 1_000_000)
        }
        h.loop.drain()
        return delays
    }

    @Test func doublesFromTheMinimumUpToTheMaximum() throws {
        #expect(try Self.retryDelays(random: 0, failures: 6) == [500, 1000, 2000, 4000, 4000, 4000])
    }

    @Test func jitterShortensAWaitByUpToTwentyPercent() throws {
        #expect(try Self.retryDelays(random: 1, failures: 5) == [400, 800, 1600, 3200, 3200])
    }
}

/// Read on the test's loop (a sync function: async tests may not call `assumeIsolated`).
func isClosed(_ source: Source) -> Bool {
    source.assumeIsolated { $0.isClosed }
}

@Suite struct PullMachineTests {
    let spec = PullSpec(stream: "live/cam", url: "rtmp://192.0.2.1/live/cam")

    @Test func playsThenRetriesAfterTheBackoffWhenTheUpstreamEnds() throws {
        let h = try PullHarness(["reconnect_min_ms": .number(500), "reconnect_max_ms": .number(4000)])
        try h.manager.add(spec)
        h.loop.run()
        #expect(h.state == .connecting)
        #expect(h.script.attempts.count == 1)

        try h.script.attempts[0].play()
        h.loop.run()
        #expect(h.state == .playing)
        let source = try #require(h.source())
        #expect(source.publisher.protocolName == "pull")
        #expect(source.publisher.remoteAddress == "fake 192.0.2.1:1935")
        #expect(source.publisher.params["pull_url"] == "rtmp://192.0.2.1:1935/live/cam")

        h.script.attempts[0].events.upstreamEnded("the server ended the stream")
        h.loop.run()
        #expect(h.manager.snapshot("live/cam")?.attempts == 1)
        #expect(h.state == .retrying)
        #expect(h.manager.snapshot("live/cam")?.lastError == "the server ended the stream")
        h.loop.advance(by: .milliseconds(499))
        #expect(h.script.attempts.count == 1)
        h.loop.advance(by: .milliseconds(1))
        #expect(h.script.attempts.count == 2)
        #expect(h.state == .connecting)
        #expect(h.manager.snapshot("live/cam")?.reconnects == 1)

        // Failures in a row double the wait; playing again resets it.
        h.script.attempts[1].promise.fail(PullError.invalid("refused"))
        h.loop.run()
        #expect(h.state == .retrying)
        h.loop.advance(by: .milliseconds(999))
        #expect(h.script.attempts.count == 2)
        h.loop.advance(by: .milliseconds(1))
        #expect(h.script.attempts.count == 3)
        try h.script.attempts[2].play()
        h.loop.run()
        #expect(h.state == .playing)
        #expect(h.manager.snapshot("live/cam")?.lastError == nil)
        h.loop.drain()
    }

    @Test func eventsOfAnOldAttemptAreIgnored() throws {
        let h = try PullHarness()
        try h.manager.add(spec)
        h.loop.run()
        let first = h.script.attempts[0]
        first.promise.fail(PullError.invalid("refused"))
        h.loop.advance(by: .seconds(1))
        #expect(h.script.attempts.count == 2)
        // The first attempt's late events must not start the stream.
        first.events.upstream(.stream(try PullTestMedia.video()))
        h.loop.run()
        #expect(h.source() == nil)
        #expect(h.state == .connecting)
        h.loop.drain()
    }

    @Test func removeClosesTheUpstreamAndTheStream() throws {
        let h = try PullHarness()
        try h.manager.add(spec)
        h.loop.run()
        try h.script.attempts[0].play()
        h.loop.run()
        let source = try #require(h.source())
        #expect(h.manager.remove("live/cam", reason: "test"))
        h.loop.run()
        #expect(h.script.attempts[0].upstream.closed)
        #expect(isClosed(source))
        #expect(h.manager.snapshot("live/cam") == nil)
        #expect(!h.manager.remove("live/cam", reason: "again"))
        h.loop.drain()
    }

    @Test func anOnDemandPullStartsForAPlayerAndStopsWhenIdle() async throws {
        let h = try PullHarness(["on_demand_idle_ms": .number(2000)])
        h.loop.claim()
        try h.manager.add(PullSpec(stream: "live/cam", url: "rtmp://192.0.2.1/live/cam", onDemand: true))
        h.loop.run()
        #expect(h.state == .idle)
        #expect(h.script.attempts.isEmpty)

        #expect(await h.manager.provide("live/cam", for: SessionInfo(sessionID: "1", protocolName: "rtmp", remoteAddress: "x")))
        #expect(await !h.manager.provide("live/other", for: SessionInfo(sessionID: "2", protocolName: "rtmp", remoteAddress: "x")))
        h.loop.claim()
        h.loop.run()
        #expect(h.script.attempts.count == 1)
        try h.script.attempts[0].play()
        h.loop.run()
        #expect(h.state == .playing)
        let source = try #require(h.source())

        // No player ever attaches: the idle time runs out and the pull goes back to idle.
        h.loop.advance(by: .milliseconds(1500))
        #expect(h.state == .playing)
        h.loop.advance(by: .milliseconds(1000))
        #expect(h.state == .idle)
        #expect(h.script.attempts[0].upstream.closed)
        #expect(isClosed(source))
        #expect(h.manager.snapshot("live/cam") != nil)
        h.loop.drain()
    }

    @Test func anEphemeralPullGoesWhenItsUpstreamEndsAfterPlaying() throws {
        let h = try PullHarness()
        try h.manager.add(spec, origin: "node-a", ephemeral: true)
        h.loop.run()
        #expect(h.manager.snapshot("live/cam")?.origin == "node-a")
        try h.script.attempts[0].play()
        h.loop.run()
        let source = try #require(h.source())
        #expect(source.publisher.params["cluster_origin"] == "node-a")
        h.script.attempts[0].events.upstreamEnded("origin stream ended")
        h.loop.run()
        #expect(h.manager.snapshot("live/cam") == nil)
        #expect(isClosed(source))
        h.loop.advance(by: .seconds(60))
        #expect(h.script.attempts.count == 1)
        h.loop.drain()
    }

    @Test func anEphemeralPullRetriesUntilItPlays() throws {
        let h = try PullHarness()
        try h.manager.add(spec, ephemeral: true)
        h.loop.run()
        h.script.attempts[0].promise.fail(PullError.invalid("not yet"))
        h.loop.advance(by: .seconds(1))
        #expect(h.script.attempts.count == 2)
        #expect(h.manager.snapshot("live/cam") != nil)
        h.loop.drain()
    }

    @Test func aRefusedAdmissionIsTheAttemptsError() throws {
        let h = try PullHarness()
        // Another publisher holds the id (reject_duplicate_publish is on by default).
        let other = Source(id: "live/cam", eventLoop: h.loop,
                           publisher: SessionInfo(sessionID: "9", protocolName: "rtmp", remoteAddress: "192.0.2.9:1"),
                           context: h.relay)
        try h.manager.add(spec)
        try h.relay.registry.register(other)
        h.loop.run()
        try h.script.attempts[0].play()
        h.loop.run()
        #expect(h.state == .retrying)
        #expect(h.manager.snapshot("live/cam")?.lastError?.hasPrefix("refused") == true)
        #expect(h.script.attempts[0].upstream.closed)
        h.loop.drain()
    }
}

@Suite struct PullAPITests {
    @Test func addChecksItsInput() throws {
        let h = try PullHarness(["max_pulls": .number(1)])
        #expect(throws: PullError.invalid("an rtmp url needs an app and a stream name: rtmp://host[:port]/app/stream")) {
            try h.manager.add(PullSpec(stream: "live/a", url: "rtmp://192.0.2.1/live"))
        }
        try h.manager.add(PullSpec(stream: "live/a", url: "rtmp://192.0.2.1/live/a"))
        #expect(throws: PullError.conflict("stream live/a already has a pull")) {
            try h.manager.add(PullSpec(stream: "live/a", url: "rtmp://192.0.2.1/live/b"))
        }
        #expect(throws: PullError.tooMany(1)) {
            try h.manager.add(PullSpec(stream: "live/b", url: "rtmp://192.0.2.1/live/b"))
        }
        h.loop.drain()
    }

    @Test func disabledRefusesEveryPull() throws {
        let h = try PullHarness(["enabled": .bool(false)])
        #expect(throws: PullError.disabled) { try h.manager.add(PullSpec(stream: "live/a", url: "rtmp://h/live/a")) }
        #expect(PullError.disabled.status == 409)
        #expect(PullError.tooMany(1).status == 503)
        #expect(PullError.invalid("x").status == 400)
    }

    @Test func bodiesAreReadLikeConfigEntries() throws {
        let spec = try PullAdmin.spec(["stream": .string("cam/door"), "url": .string("rtsp://u:p@192.0.2.5/h264"),
                                       "transport": .string("udp"), "on_demand": .bool(true)])
        #expect(spec == PullSpec(stream: "cam/door", url: "rtsp://u:p@192.0.2.5/h264", transport: .udp, onDemand: true))
        func message(_ body: [String: JSONValue]) -> String {
            do { _ = try PullAdmin.spec(body); return "" } catch { return error.message }
        }
        #expect(message(["url": .string("rtmp://h/a/b")]).hasPrefix("stream:"))
        #expect(message(["stream": .string("a/b"), "url": .string("ftp://h/x")]).hasPrefix("url:"))
        #expect(message(["stream": .string("a/b"), "url": .string("rtmp://h/a/b"), "transport": .string("sctp")]).hasPrefix("transport:"))
        #expect(message(["stream": .string("a/b"), "url": .string("rtmp://h/a/b"), "extra": .number(1)]) == "extra: unknown key")
    }

    @Test func snapshotsHideTheCredentialsAndEncodeSnakeCase() throws {
        let h = try PullHarness()
        let snapshot = try h.manager.add(PullSpec(stream: "cam/door", url: "rtsp://admin:secret@192.0.2.5/h264", transport: .udp))
        #expect(snapshot.url == "rtsp://192.0.2.5:554/h264")
        let json = String(decoding: try JSONEncoder().encode(snapshot), as: UTF8.self)
        #expect(!json.contains("secret"))
        #expect(json.contains("\"on_demand\":false") && json.contains("\"bytes_in\":0") && json.contains("\"bitrate_kbps\":0"))
        h.loop.drain()
    }
}
