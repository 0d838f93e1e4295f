import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayFLV
import RelayRTMP
import RelayTestSupport
import Testing

/// Hardening issue, defects 1 and 8, from the outside: a hostile RTMP peer's frame or command
/// closes its own connection with one log line; the server, the admin API and another stream
/// (with its players) carry on.
@Suite(.serialized)
struct HardeningRTMPTests {
    /// avcC (H.264 Main 1280x720) declaring 1-byte NAL lengths (lengthSizeMinusOne = 0).
    static let oneByteLengthRecord = hexBytes("014d401ffce10017674d401fda014016ec0440000003004000000ca3c60ca801000468ef3c80")

    /// Lines saying an RTMP connection was closed for `reason`, once there are `n` (or 5 s passed):
    /// the line may follow the close the test saw.
    static func closeLines(_ server: TestServer, _ reason: String, reaching n: Int = 1) async -> Int {
        await server.log.count(where: { $0.contains("closing RTMP connection") && $0.contains(reason) }, reaching: n)
    }

    /// Defect 1: 1-byte NAL lengths, then one ~8 MiB video message of ~4.2 M one-byte NAL units,
    /// with an RTMP player attached. On 413d2a0 the rewrite to 4-byte lengths (~21 MB) reached
    /// `precondition` in ChunkEncoder and killed the process (this test process, here).
    @Test func nalLengthRewriteBombClosesOnlyItsPublisher() async throws {
        let server = try await TestServer.start(#""source": {"track_wait_ms": 200}"#)
        let victim = try await VictimStream.start(server)

        let evil = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "evil")
        try await evil.send(RawRTMPPublisher.video(timestamp: 0, body: [0x17, 0, 0, 0, 0] + Self.oneByteLengthRecord))
        try await evil.send(RawRTMPPublisher.video(timestamp: 0, body: [0x17, 1, 0, 0, 0, 0x02, 0x65, 0x88]))
        #expect(await server.waitPlayable("live/evil"))
        let evilPlayer = try await RTMPPlayer.connect(url: server.rtmpURL("live/evil"), group: MultiThreadedEventLoopGroup.singleton)
        _ = await evilPlayer.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        let before = victim.frames

        // 5 + 2 × 4,194,301 = 8,388,607 bytes: within rtmp.max_message_size (8 MiB).
        var bomb = [UInt8](repeating: 0x01, count: 5 + 2 * 4_194_301)
        bomb.replaceSubrange(0..<5, with: [0x17, 1, 0, 0, 0])
        for i in stride(from: 6, to: bomb.count, by: 2) { bomb[i] = 0x65 }
        try await evil.send(RawRTMPPublisher.video(timestamp: 40, body: bomb))

        #expect(await evil.waitClosed(seconds: 10), "the bomb's publisher was left connected")
        #expect(await Self.closeLines(server, "NAL length rewrite") == 1, "expected one log line: \(server.log.lines.suffix(5))")
        let admin = try await timedAdminGet(server.adminPort)
        #expect(admin.status == 200 && admin.ms < 100, "admin answered \(admin.status) in \(admin.ms) ms")
        await victim.expectPlaying(since: before)
        await evilPlayer.close()
        await victim.stop()
        await server.stop()
    }

    /// Defect 8: straight after the handshake, connections announce 8 MiB command/data messages
    /// of AMF0 null. On 413d2a0 each was buffered and decoded (~0.5 s of event loop, ~31x the
    /// bytes in RSS) and the connection stayed open. Now the header alone closes it.
    @Test func amfFloodBeforeConnectIsRefusedAtTheHeader() async throws {
        let server = try await TestServer.start()
        let victim = try await VictimStream.start(server)
        let before = victim.frames

        var attackers: [RawConnection] = []
        for (index, type) in [UInt8(18), 20, 18, 20].enumerated() {
            let conn = try await BadInputTests.handshaken(port: server.rtmpPort)
            // A type 0 header announcing 8 MiB on chunk stream 3, then the first 128-byte chunk.
            let length = 8 << 20
            var bytes: [UInt8] = [0x03, 0, 0, 0, UInt8(length >> 16), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF), type, 0, 0, 0, 0]
            bytes += [UInt8](repeating: 0x05, count: 128)
            try? await conn.send(bytes)
            attackers.append(conn)
            // Then the rest of a first message, as the original trigger did (the server may have closed).
            if index < 2 { try? await conn.send(ByteBuffer(repeating: 0x05, count: 1 << 20)) }
        }
        for conn in attackers { #expect(await conn.waitClosed(seconds: 3), "an 8 MiB AMF announcement left its connection open") }
        #expect(await Self.closeLines(server, "exceeds limit 8192", reaching: 4) == 4, "\(server.log.lines.suffix(6))")

        // Just above the pre-connect cap, and after connect just above the command cap.
        let early = try await BadInputTests.handshaken(port: server.rtmpPort)
        var justOver = ByteBuffer()
        RawRTMPPublisher.command(["connect", 1, .string(String(repeating: "a", count: 8192))], streamID: 0, into: &justOver)
        try? await early.send(justOver)
        #expect(await early.waitClosed(seconds: 3), "a connect over max_bytes_before_connect left its connection open")

        let late = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "late")
        var data = ByteBuffer()
        RTMPChunkEncoder.write(RTMPMessage(chunkStreamID: 5, timestamp: 0, typeID: 18, messageStreamID: 1,
                                           payload: ByteBuffer(repeating: 0x05, count: (64 << 10) + 1)),
                               chunkSize: 128, into: &data)
        try? await late.send(data)
        #expect(await late.waitClosed(seconds: 3), "a data message over max_command_bytes left its connection open")
        #expect(await Self.closeLines(server, "exceeds limit 65536") == 1)

        // Under the byte cap but over the AMF value budget: refused after a bounded decode.
        let nulls = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "nulls")
        var many = ByteBuffer()
        RTMPChunkEncoder.write(RTMPMessage(chunkStreamID: 5, timestamp: 0, typeID: 18, messageStreamID: 1,
                                           payload: ByteBuffer(repeating: 0x05, count: 60_000)),
                               chunkSize: 128, into: &many)
        try? await nulls.send(many)
        #expect(await nulls.waitClosed(seconds: 3), "60 000 AMF nulls left the connection open")
        #expect(await Self.closeLines(server, "more values than allowed") == 1)

        let admin = try await timedAdminGet(server.adminPort)
        #expect(admin.status == 200 && admin.ms < 100, "admin answered \(admin.status) in \(admin.ms) ms")
        await victim.expectPlaying(since: before)
        for conn in attackers { await conn.close() }
        await victim.stop()
        await server.stop()
    }

    /// An aggregate message of many empty tags would be thousands of media messages handled in
    /// one go: more than `maxAggregateTags` closes the publisher.
    @Test func aggregateWithTooManyTagsIsRefused() async throws {
        let server = try await TestServer.start()
        let publisher = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "agg")
        var body = ByteBuffer()
        for _ in 0..<1025 {
            body.writeBytes([18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])  // empty script tag: skipped, but counted
            body.writeInteger(UInt32(11))  // back pointer
        }
        var out = ByteBuffer()
        RTMPChunkEncoder.write(RTMPMessage(chunkStreamID: 4, timestamp: 0, typeID: 22, messageStreamID: 1, payload: body),
                               chunkSize: 128, into: &out)
        try? await publisher.send(out)
        #expect(await publisher.waitClosed(seconds: 3), "an aggregate of 1025 tags left its publisher connected")
        #expect(await Self.closeLines(server, "more than 1024 tags") == 1)
        await server.stop()
    }

    /// The RTMP start timer and the listener's idle check: a handshake that never finishes and a
    /// publisher that falls silent are both closed with a log line.
    @Test func stalledHandshakeAndSilentPublisherAreClosed() async throws {
        let server = try await TestServer.start(#""limits": {"idle_timeout_ms": 500}"#, rtmp: #", "handshake_timeout_ms": 400"#)
        let stalled = try await RawConnection.connect(port: server.rtmpPort)
        try await stalled.send([3] + [UInt8](repeating: 0, count: 100))
        let silent = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "silent")
        #expect(await stalled.waitClosed(seconds: 3), "a stalled handshake was left open")
        #expect(await silent.waitClosed(seconds: 3), "a silent publisher was left open")
        #expect(await server.log.eventually("no publish or play within 400 ms"))
        await server.stop()
    }
}
