import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import Testing

/// The `limits` section and the per-listener bounds: connections (total, per IP), streams,
/// first-request timeouts (slowloris), request head sizes and RTMP message/chunk sizes. Each
/// violation closes that one connection with a log line; the server goes on.
@Suite(.serialized)
struct LimitsTests {
    @Test func connectionsBeyondTheTotalAreClosedAtAcceptOnEveryListener() async throws {
        let server = try await TestServer.start("\"limits\": {\"max_connections\": 3, \"max_connections_per_ip\": 0}")
        // One shared account: RTMP, HTTP-FLV and RTSP fill it …
        let held = [try await RawConnection.connect(port: server.rtmpPort),
                    try await RawConnection.connect(port: server.httpPort),
                    try await RawConnection.connect(port: server.rtspPort)]
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(server.server.context.connections.total == 3)
        // … so a fourth on any listener (JT/T 1078, GB28181 TCP, RTMP) is closed at once.
        for port in [server.jtPort, server.gb.sharedTCPPort ?? 0, server.rtmpPort] {
            let extra = try await RawConnection.connect(port: port)
            #expect(await extra.waitClosed(seconds: 2), "connection beyond max_connections on port \(port) left open")
        }
        #expect(await server.log.eventually("limits.max_connections"))
        for conn in held { #expect(!conn.isClosed) }
        // A slot freed is a slot to use.
        await held[0].close()
        try await Task.sleep(nanoseconds: 200_000_000)
        let again = try await RawConnection.connect(port: server.httpPort)
        #expect(!(await again.waitClosed(seconds: 0.5)), "a connection within the limit was closed")
        await again.close()
        for conn in held { await conn.close() }
        await server.stop()
    }

    @Test func connectionsBeyondThePerIPLimitAreClosedAtAccept() async throws {
        let server = try await TestServer.start("\"limits\": {\"max_connections\": 100, \"max_connections_per_ip\": 2}")
        let a = try await RawConnection.connect(port: server.httpPort)
        let b = try await RawConnection.connect(port: server.rtmpPort)
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(server.server.context.connections.count(ip: "127.0.0.1") == 2)
        let c = try await RawConnection.connect(port: server.rtspPort)
        #expect(await c.waitClosed(seconds: 2), "third connection from one IP left open")
        #expect(await server.log.eventually("limits.max_connections_per_ip"))
        #expect(!a.isClosed && !b.isClosed)
        await a.close()
        await b.close()
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(server.server.context.connections.total == 0, "closed connections are released")
        await server.stop()
    }

    @Test func publishersBeyondMaxStreamsAreRefusedAndTheLiveOneFlows() async throws {
        let (server, first) = try await TestServer.startPublishing("live/one", "\"limits\": {\"max_streams\": 1}")
        defer { first.terminate() }
        let media = try await TestMedia.shared.h264AACFLV()
        try await server.expectPublishRefused(media, stream: "live/two")
        #expect(await server.log.eventually("limits.max_streams"))
        #expect(server.server.context.registry.source("live/two") == nil)
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort,
                                                     path: "/live/one.flv", group: MultiThreadedEventLoopGroup.singleton)
        let stats = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 10 }
        #expect(stats.videoFrames > 10)
        await player.close()
        await server.stop()
    }

    @Test func slowlorisRequestsAreClosedAfterTheFirstRequestTimeout() async throws {
        let server = try await TestServer.start(http: ", \"request_timeout_ms\": 500", rtsp: ", \"request_timeout_ms\": 500")
        let started = Date()
        let http = try await RawConnection.connect(port: server.httpPort)
        let rtsp = try await RawConnection.connect(port: server.rtspPort)
        try await http.send(Array("GET /live/x.flv HTTP/1.1\r\n".utf8))
        try await rtsp.send(Array("OPTIONS rtsp://127.0.0.1/live/x RTSP/1.0\r\n".utf8))
        // One header line every 100 ms, never the blank line that ends the head.
        for i in 0..<12 where !http.isClosed || !rtsp.isClosed {
            if !http.isClosed { try? await http.send(Array("X-Drip-\(i): a\r\n".utf8)) }
            if !rtsp.isClosed { try? await rtsp.send(Array("X-Drip-\(i): a\r\n".utf8)) }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(await http.waitClosed(seconds: 1), "HTTP-FLV slowloris left open")
        #expect(await rtsp.waitClosed(seconds: 1), "RTSP slowloris left open")
        #expect(Date().timeIntervalSince(started) < 2.5)
        #expect(await server.log.eventually("closing flv connection from 127.0.0.1"))
        #expect(await server.log.eventually("closing rtsp connection from 127.0.0.1"))
        #expect(await server.log.eventually("no complete request within 500 ms"))

        // A complete request in time is served (the guard steps aside): a 404 after the play wait.
        let ok = try await RawConnection.connect(port: server.rtspPort)
        try await ok.send(Array("OPTIONS rtsp://127.0.0.1/live/x RTSP/1.0\r\nCSeq: 1\r\n\r\n".utf8))
        let answer = await ok.waitReceived(12, seconds: 3)
        #expect(String(buffer: answer).hasPrefix("RTSP/1.0 200"), "\(String(buffer: answer))")
        try await Task.sleep(nanoseconds: 700_000_000)
        #expect(!ok.isClosed, "a connection that sent its request in time was closed by the timeout")
        await ok.close()
        await server.stop()
    }

    @Test func oversizedRequestHeadsAreRefused() async throws {
        let server = try await TestServer.start(http: ", \"max_header_bytes\": 2048", rtsp: ", \"max_header_bytes\": 2048")
        let filler = "X-Filler: " + String(repeating: "a", count: 3000) + "\r\n"
        let http = try await RawConnection.connect(port: server.httpPort)
        try await http.send(Array("GET /live/x.flv HTTP/1.1\r\nHost: x\r\n\(filler)\r\n".utf8))
        #expect(await http.waitClosed(seconds: 2), "oversized HTTP head left open")
        #expect(String(buffer: http.received).hasPrefix("HTTP/1.1 431"), "\(String(buffer: http.received))")

        let rtsp = try await RawConnection.connect(port: server.rtspPort)
        try await rtsp.send(Array("OPTIONS rtsp://127.0.0.1/live/x RTSP/1.0\r\nCSeq: 1\r\n\(filler)\r\n".utf8))
        #expect(await rtsp.waitClosed(seconds: 2), "oversized RTSP head left open")
        #expect(String(buffer: rtsp.received).hasPrefix("RTSP/1.0 400"), "\(String(buffer: rtsp.received))")
        #expect(await server.log.eventually("closing flv connection from 127.0.0.1", "request head larger than 2048 bytes"))
        #expect(await server.log.eventually("bad RTSP request", "exceed 2048 bytes"))

        // A head that fits is still served.
        let small = try await RawConnection.connect(port: server.rtspPort)
        try await small.send(Array("OPTIONS rtsp://127.0.0.1/live/x RTSP/1.0\r\nCSeq: 1\r\n\r\n".utf8))
        #expect(String(buffer: await small.waitReceived(12, seconds: 3)).hasPrefix("RTSP/1.0 200"))
        await small.close()
        await server.stop()
    }

    @Test func rtmpMessagesAndChunksBeyondTheConfiguredSizesCloseTheConnection() async throws {
        let server = try await TestServer.start(rtmp: ", \"max_message_size\": 65536, \"max_chunk_size\": 8192")
        // A message header claiming 100000 bytes (type 9, video).
        let big = try await BadInputTests.handshaken(port: server.rtmpPort)
        try await big.send([0x04, 0, 0, 0, 0x01, 0x86, 0xA0, 9, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 64))
        #expect(await big.waitClosed(seconds: 3), "message beyond max_message_size left open")
        #expect(await server.log.eventually("exceeds limit"))

        // Set Chunk Size 16384 (type 1 on chunk stream 2).
        let chunk = try await BadInputTests.handshaken(port: server.rtmpPort)
        try await chunk.send([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x40, 0x00])
        #expect(await chunk.waitClosed(seconds: 3), "chunk size beyond max_chunk_size left open")
        #expect(await server.log.eventually("Set Chunk Size 16384 is out of range"))

        // Within the limits all is well: a real publisher plays.
        let publisher = try await server.publishPlayable(TestMedia.shared.h264AACFLV(), stream: "live/sized")
        defer { publisher.terminate() }
        await server.stop()
    }
}

