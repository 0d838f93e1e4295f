import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import Testing

/// Issue 16, defect 3 and the listener requirements: no connection that is not playing or
/// publishing holds a slot for long (on every TCP listener), play requests with a body are
/// refused at once, the per-IP cap holds on every listener (admin too), and a flood of play
/// hooks to a slow hook server does not keep a publisher out.
@Suite(.serialized)
struct HardeningListenerTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// Waits until every connection is closed (true) or `seconds` pass.
    static func allClosed(_ connections: [RawConnection], seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if connections.allSatisfy(\.isClosed) { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return connections.allSatisfy(\.isClosed)
    }

    /// Defect 3 exactly: heads announcing a 1 GB body, then silence, filled `limits.max_connections`
    /// for good and kept players and publishers out.
    @Test func bodyAnnouncingPlayRequestsDoNotHoldConnectionSlots() async throws {
        let server = try await TestServer.start("\"limits\": {\"max_connections\": 60, \"max_connections_per_ip\": 0}")
        var attackers: [RawConnection] = []
        for i in 0..<60 {
            let conn = try await RawConnection.connect(port: server.httpPort)
            let framing = i < 50 ? "Content-Length: 1000000000" : "Transfer-Encoding: chunked"
            try await conn.send(Array("GET /live/x\(i).flv HTTP/1.1\r\nHost: relay\r\n\(framing)\r\n\r\n".utf8))
            attackers.append(conn)
        }
        #expect(await Self.allClosed(attackers, seconds: 3), "play requests announcing a body still hold slots")
        #expect(String(buffer: attackers[0].received).hasPrefix("HTTP/1.1 413"), "\(String(buffer: attackers[0].received))")
        #expect(String(buffer: attackers[59].received).hasPrefix("HTTP/1.1 400"), "\(String(buffer: attackers[59].received))")
        #expect(await server.log.eventually("a play request must not have a body"))
        // RTSP: a body larger than any GET/SET_PARAMETER needs is refused at its head.
        let rtsp = try await RawConnection.connect(port: server.rtspPort)
        try await rtsp.send(Array("SET_PARAMETER rtsp://127.0.0.1/live/x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 60000\r\n\r\n".utf8))
        #expect(await rtsp.waitClosed(seconds: 2), "an RTSP request announcing a 60000-byte body was held")
        #expect(String(buffer: rtsp.received).hasPrefix("RTSP/1.0 413"), "\(String(buffer: rtsp.received))")

        // The slots are free: a publisher and a player get in.
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try server.publish(media, stream: "live/after")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/after"), "the publisher was kept out")
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/after.flv", group: Self.group)
        let stats = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 10 }
        #expect(stats.videoFrames > 10, "the player was kept out: \(stats.status ?? 0)")
        await player.close()
        for conn in attackers { await conn.close() }
        await server.stop()
    }

    /// A connection that says nothing, or never gets to playing/publishing, is closed on every
    /// listener within its timeout; players and publishers are left alone.
    @Test func silentAndNeverEstablishedConnectionsAreClosedOnEveryListener() async throws {
        let server = try await TestServer.start(
            "\"limits\": {\"establish_timeout_ms\": 800, \"idle_timeout_ms\": 1200}",
            rtmp: ", \"handshake_timeout_ms\": 30000", admin: ", \"request_timeout_ms\": 800")
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/kept")
        defer { publisher.terminate() }
        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/kept.flv", group: Self.group)
        let rtsp = try await RTSPPlayer.connect(url: server.rtspURL("live/kept"), group: Self.group)
        let rtmp = try await RTMPPlayer.connect(url: server.rtmpURL("live/kept"), group: Self.group)

        let started = Date()
        var silent: [(String, RawConnection)] = []
        for (name, port) in [("rtmp", server.rtmpPort), ("http_flv", server.httpPort), ("rtsp", server.rtspPort),
                             ("admin", server.adminPort), ("jt1078", server.jtPort), ("gb28181", server.gb.sharedTCPPort ?? 0)] {
            silent.append((name, try await RawConnection.connect(port: port)))
        }
        // RTMP: handshake done, then nothing (no connect, no publish, no play).
        silent.append(("rtmp after handshake", try await BadInputTests.handshaken(port: server.rtmpPort)))
        // RTSP: a keep-alive every 200 ms, never a PLAY.
        let chatty = try await RawConnection.connect(port: server.rtspPort)
        // Admin: one request answered, then an idle keep-alive connection.
        let keepAlive = try await RawConnection.connect(port: server.adminPort)
        try await keepAlive.send(Array("GET /api/v1/server HTTP/1.1\r\nHost: relay\r\n\r\n".utf8))
        #expect(String(buffer: await keepAlive.waitReceived(12, seconds: 2)).hasPrefix("HTTP/1.1 200"))
        for cseq in 1...20 where !chatty.isClosed {
            try? await chatty.send(Array("OPTIONS rtsp://127.0.0.1/live/kept RTSP/1.0\r\nCSeq: \(cseq)\r\n\r\n".utf8))
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        let all = silent.map(\.1) + [chatty, keepAlive]
        #expect(await Self.allClosed(all, seconds: 1.5))
        for (name, conn) in silent { #expect(conn.isClosed, "a silent \(name) connection was left open") }
        #expect(chatty.isClosed, "an RTSP connection that never plays was left open")
        #expect(keepAlive.isClosed, "an idle admin keep-alive connection was left open")
        #expect(Date().timeIntervalSince(started) < 6)
        #expect(await server.log.eventually("limits.establish_timeout_ms"))
        #expect(await server.log.eventually("limits.idle_timeout_ms"))
        #expect(await server.log.eventually("admin.request_timeout_ms"))

        // The players (HTTP-FLV, RTSP over TCP, RTMP) and the publisher were not touched.
        let before = (flv.stats.videoFrames, rtsp.stats.videoFrames, rtmp.stats.videoFrames)
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(!flv.stats.closed && flv.stats.videoFrames > before.0, "HTTP-FLV player stopped")
        #expect(!rtsp.stats.closed && rtsp.stats.videoFrames > before.1, "RTSP player stopped")
        #expect(!rtmp.stats.closed && rtmp.stats.videoFrames > before.2, "RTMP player stopped")
        #expect(server.server.context.registry.source("live/kept") != nil)
        await flv.close()
        await rtsp.close()
        await rtmp.close()
        await server.stop()
    }

    /// An RTMP publisher that sends nothing at all after `publish` is ended by the source's
    /// receive timeout; with `receive_timeout_action` "keep" the connection still goes, by the
    /// guard's idle check, and the source with it.
    @Test(arguments: ["close", "keep"])
    func aPublisherThatSendsNothingAfterPublishIsEnded(action: String) async throws {
        let server = try await TestServer.start(
            "\"source\": {\"receive_timeout_ms\": 1000, \"receive_timeout_action\": \"\(action)\", \"publisher_grace_ms\": 0}, " +
            "\"limits\": {\"idle_timeout_ms\": \(action == "keep" ? 1500 : 60_000)}")
        let publisher = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "mute")
        #expect(server.server.context.registry.source("live/mute") != nil)
        #expect(await publisher.waitClosed(seconds: 4), "a publisher sending nothing was left connected")
        let deadline = Date().addingTimeInterval(2)
        while server.server.context.registry.source("live/mute") != nil, Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(server.server.context.registry.source("live/mute") == nil, "its source was left behind")
        if action == "keep" { #expect(await server.log.eventually("limits.idle_timeout_ms")) }
        await publisher.close()
        await server.stop()
    }

    /// `limits.max_connections_per_ip` on every listener; the admin listener counts its own
    /// connections (so media clients cannot lock the operator out) under the same per-IP cap.
    @Test func thePerIPCapHoldsOnEveryListenerAdminIncluded() async throws {
        let server = try await TestServer.start("\"limits\": {\"max_connections\": 100, \"max_connections_per_ip\": 2}")
        let held = [try await RawConnection.connect(port: server.httpPort), try await RawConnection.connect(port: server.rtspPort)]
        try await Task.sleep(nanoseconds: 100_000_000)
        for (name, port) in [("rtmp", server.rtmpPort), ("http_flv", server.httpPort), ("rtsp", server.rtspPort),
                             ("jt1078", server.jtPort), ("gb28181", server.gb.sharedTCPPort ?? 0)] {
            let extra = try await RawConnection.connect(port: port)
            #expect(await extra.waitClosed(seconds: 2), "a third connection from one IP on \(name) was left open")
        }
        let admins = [try await RawConnection.connect(port: server.adminPort), try await RawConnection.connect(port: server.adminPort)]
        try await Task.sleep(nanoseconds: 100_000_000)
        let third = try await RawConnection.connect(port: server.adminPort)
        #expect(await third.waitClosed(seconds: 2), "a third admin connection from one IP was left open")
        for conn in admins {
            #expect(!conn.isClosed)
            try await conn.send(Array("GET /api/v1/server HTTP/1.1\r\nHost: relay\r\n\r\n".utf8))
            #expect(String(buffer: await conn.waitReceived(12, seconds: 2)).hasPrefix("HTTP/1.1 200"))
        }
        #expect(await server.log.eventually("admin: refusing connection from 127.0.0.1"))
        for conn in held + admins { await conn.close() }
        await server.stop()
    }

    /// Many players, each an on_play call to a slow hook server, must not keep a publisher's
    /// on_publish from being asked and answered in time.
    @Test func aFloodOfPlayHooksDoesNotStarvePublishers() async throws {
        let (hooks, server, players) = try await Self.playersOnSlowHooks(delayMs: 1500, path: "/live/flood.flv", count: 200) {
            "\"timeout_ms\": 5000, \"on_play\": \"\($0)\", \"on_publish\": \"\($0)\""
        }
        defer { hooks.stop() }
        // The hook server is busy with plays.
        _ = await hooks.wait(for: "on_play", count: 20, seconds: 5)
        let media = try await TestMedia.shared.h264AACFLV()
        let started = Date()
        let publisher = try server.publish(media, stream: "live/admitted")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/admitted", seconds: 8), "the publisher was not admitted")
        let took = Date().timeIntervalSince(started)
        // Its hook's own delay (1.5 s) plus start-up; not the plays' queue (200 × 1.5 s / 32 connections).
        #expect(took < 4.5, "publisher admitted after \(took) s")
        #expect(hooks.events("on_publish").count == 1)
        for conn in players { await conn.close() }
        await server.stop()
    }

    /// Beyond `hooks.play_max_in_flight` a play is answered at once (403 unless fail-open) with
    /// one log line, never queued.
    @Test func playsOverTheHookBudgetAreAnsweredAtOnce() async throws {
        let (hooks, server, players) = try await Self.playersOnSlowHooks(delayMs: 2000, path: "/live/budget.flv", count: 30) {
            "\"timeout_ms\": 5000, \"play_max_in_flight\": 10, \"on_play\": \"\($0)\""
        }
        defer { hooks.stop() }
        try await Task.sleep(nanoseconds: 700_000_000)
        let refused = players.filter { String(buffer: $0.received).hasPrefix("HTTP/1.1 403") }
        #expect(refused.count == 20, "\(refused.count) plays refused at once")
        #expect(await server.log.eventually("hooks.play_max_in_flight"))
        for conn in players { await conn.close() }
        await server.stop()
    }

    /// A hook server that answers after `delayMs`, a server whose `hooks` section `section(url)`
    /// spells, and `count` HTTP-FLV players that asked for `path` (each waiting on its play hook).
    static func playersOnSlowHooks(delayMs: Int, path: String, count: Int, hooks section: (String) -> String) async throws
        -> (HookServer, TestServer, [RawConnection]) {
        let hooks = try await HookServer.start(["--delay-ms", "\(delayMs)"])
        do {
            let server = try await TestServer.start("\"hooks\": {\(section(hooks.url))}")
            var players: [RawConnection] = []
            for _ in 0..<count {
                let conn = try await RawConnection.connect(port: server.httpPort)
                try await conn.send(Array("GET \(path) HTTP/1.1\r\nHost: relay\r\n\r\n".utf8))
                players.append(conn)
            }
            return (hooks, server, players)
        } catch {
            hooks.stop()
            throw error
        }
    }
}
