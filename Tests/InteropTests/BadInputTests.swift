import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayFLV
import RelayRTMP
import Testing

/// Garbage on any port closes that one connection with a log line; a stream playing meanwhile
/// keeps playing.
@Suite(.serialized)
struct BadInputTests {
    /// Handshakes as a client and returns the connection ready for chunks.
    static func handshaken(port: Int) async throws -> RawConnection {
        let conn = try await RawConnection.connect(port: port)
        var client = RTMPHandshakeClient()
        try await conn.send(client.start())
        var s = await conn.waitReceived(1 + 1536 * 2, seconds: 5)
        guard case .send(let c2) = try client.feed(&s) else { throw HandshakeFailed() }
        try await conn.send(c2)
        return conn
    }

    struct HandshakeFailed: Error {}

    @Test func garbageOnEveryPortLeavesAPlayingStreamAlone() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/victim", rtmp: ", \"handshake_timeout_ms\": 1500")
        defer { publisher.terminate() }
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort,
                                                     path: "/live/victim.flv", group: MultiThreadedEventLoopGroup.singleton)
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        let framesBefore = player.stats.videoFrames

        // 1. Random bytes where a handshake should be (version byte 0x47 is not RTMP 3).
        let random = try await RawConnection.connect(port: server.rtmpPort)
        try await random.send([0x47] + (0..<4000).map { _ in UInt8.random(in: 0...255) })
        #expect(await random.waitClosed(seconds: 3), "random bytes: connection left open")
        #expect(await server.log.eventually("handshake version"))

        // 2. A truncated handshake: C0 and half of C1, then silence → closed by the timeout.
        let truncated = try await RawConnection.connect(port: server.rtmpPort)
        try await truncated.send([3] + [UInt8](repeating: 0, count: 700))
        #expect(await truncated.waitClosed(seconds: 5), "truncated handshake: connection left open")
        #expect(await server.log.eventually("no publish or play within"))

        // 3. A chunk claiming a 16 MB message.
        let huge = try await Self.handshaken(port: server.rtmpPort)
        try await huge.send([0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 64))
        #expect(await huge.waitClosed(seconds: 3), "16 MB message: connection left open")
        #expect(await server.log.eventually("exceeds limit"))

        // 4. A command with an unknown AMF0 type marker (0x0E is reserved).
        let amf = try await Self.handshaken(port: server.rtmpPort)
        var payload = ByteBuffer()
        AMF0Value.string("connect").encode(into: &payload)
        AMF0Value.number(1).encode(into: &payload)
        payload.writeBytes([0x0E, 1, 2, 3])
        var chunk = ByteBuffer()
        RTMPChunkEncoder.write(RTMPMessage(chunkStreamID: 3, timestamp: 0, typeID: 20, messageStreamID: 0, payload: payload),
                               chunkSize: 128, into: &chunk)
        try await amf.send(chunk)
        #expect(await amf.waitClosed(seconds: 3), "unknown AMF type: connection left open")
        #expect(await server.log.eventually("AMF0"))

        // 5. A bogus HTTP request line.
        let http = try await RawConnection.connect(port: server.httpPort)
        try await http.send(Array("GARBAGE\u{1}\u{2} / NOTHTTP\r\n\r\n".utf8))
        #expect(await http.waitClosed(seconds: 3), "bogus HTTP: connection left open")
        #expect(String(buffer: http.received).hasPrefix("HTTP/1.1 400"))
        #expect(await server.log.eventually("bad HTTP request"))

        // 6. An oversized HTTP header block.
        let headers = try await RawConnection.connect(port: server.httpPort)
        try await headers.send(Array(("GET /live/victim.flv HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 200_000) + "\r\n\r\n").utf8))
        #expect(await headers.waitClosed(seconds: 3), "oversized header: connection left open")

        // The stream played on throughout.
        try await Task.sleep(nanoseconds: 500_000_000)
        let after = player.stats
        #expect(after.error == nil)
        #expect(!after.closed)
        #expect(after.videoFrames > framesBefore + 20, "victim frames \(framesBefore) → \(after.videoFrames)")
        await player.close()
        await server.stop()
    }
}
