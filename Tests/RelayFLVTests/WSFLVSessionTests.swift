import NIOCore
import NIOHTTP1
import NIOWebSocket
import RelayCore
@testable import RelayFLV
import RelayTestSupport
import Testing

/// WS-FLV without sockets: the upgrade through the HTTP-FLV pipeline, the frames a player
/// reads, ping/close, and that a segment leaves as a frame around the shared buffer itself.
@Suite struct WSFLVSessionTests {
    final class Harness: TestRelay {
        init() {
            super.init(muxers: [FLVMuxer.factory(hevcMode: .enhanced), FLVMuxer.webSocketFactory(hevcMode: .enhanced)])
        }

        func upgrade(_ path: String, key: String = "dGhlIHNhbXBsZSBub25jZQ==") throws -> (ManualChannel, WrittenBytes) {
            let (channel, written) = try capturedChannel(ip: "192.0.2.3", port: 6001)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(HTTPFLVHandler(relay: relay, logger: relay.logger))
            channel.activate()
            channel.receive(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"))
            return (channel, written)
        }
    }

    /// A masked client frame (RFC 6455 5.3), payload ≤ 125 bytes.
    static func clientFrame(opcode: UInt8, _ payload: [UInt8]) -> ByteBuffer {
        let mask: [UInt8] = [1, 2, 3, 4]
        var b = ByteBuffer(bytes: [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask)
        b.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return b
    }

    /// The publisher leaves (the source is confined to the test's loop: closed synchronously).
    static func end(_ publisher: TestPublisher) {
        publisher.source.assumeIsolated { $0.close(reason: "publisher left") }
    }

    static func text(_ b: ByteBuffer) -> String { String(decoding: b.readableBytesView, as: UTF8.self) }

    @Test func aSegmentIsOneBinaryFrameAroundTheSharedBuffer() throws {
        let h = Harness()
        let channel = try h.peerChannel(ip: "192.0.2.3", port: 6002)
        var writes: [ByteBuffer] = []
        channel.onWrite = { writes.append($0) }
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        try channel.pipeline.syncOperations.addHandler(WebSocketBinaryFrames())
        channel.activate()
        let segment = ByteBuffer(bytes: Array(repeating: 0xAB, count: 1000))  // held here too: shared, as in a TransStream

        let frame = WebSocketBinaryFrames.frame(segment)
        #expect(frame.fin && frame.opcode == .binary && frame.maskKey == nil)
        #expect(frame.data == segment)

        channel.writeAndFlush(segment, promise: nil)
        #expect(writes.count == 2)
        #expect(writes.first.map { Array($0.readableBytesView) } == [0x82, 126, 0x03, 0xE8])
        let sent = try #require(writes.last)
        #expect(sent == segment)
        let base = { (b: ByteBuffer) in b.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(base(sent) == base(segment), "the frame's payload is the segment's storage, not a copy")
    }

    @Test func anUpgradedPlayerGetsFramedFLVAndAnswersPingAndClose() async throws {
        let h = Harness()
        let publisher = try TestPublisher(id: "live/cam", relay: h.relay, loop: h.loop)
        publisher.sendKeyFrame(at: 0)
        let (channel, written) = try h.upgrade("/live/cam.live.flv?token=1")
        #expect(await h.loop.run(until: { Self.text(written.buffer).contains("\r\n\r\n") && written.buffer.readableBytes > 200 }))
        var out = written.take()
        let head = Self.text(out)
        #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))  // RFC 6455 1.3's example
        let end = try #require(out.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)))
        out.moveReaderIndex(to: end.upperBound)
        // A binary frame (FIN), unmasked, whose payload starts with the FLV header "FLV" 1, a+v.
        let first = out.readBytes(length: 2) ?? []
        #expect(first.count == 2 && first[0] == 0x82 && first[1] & 0x80 == 0)
        guard first.count == 2 else { return }
        let length = first[1] & 0x7F
        if length == 126 { out.moveReaderIndex(forwardBy: 2) } else if length == 127 { out.moveReaderIndex(forwardBy: 8) }
        #expect(out.readBytes(length: 5) == [0x46, 0x4C, 0x56, 0x01, 0x05])
        #expect(out.readableBytesView.firstRange(of: TestPublisher.keyFrame) != nil)
        #expect(h.relay.players(of: "live/cam") == [.wsFLV: 1])

        // Text from the client is ignored; a ping is answered with its payload.
        channel.receive(Self.clientFrame(opcode: 0x1, Array("hello".utf8)))
        channel.receive(Self.clientFrame(opcode: 0x9, [7, 8, 9]))
        #expect(await h.loop.run(until: { written.buffer.readableBytes >= 5 }))
        #expect(Array(written.take().readableBytesView) == [0x8A, 3, 7, 8, 9])
        // Close is echoed with the client's code, then the connection closes and the player leaves.
        channel.receive(Self.clientFrame(opcode: 0x8, [0x03, 0xE8]))
        #expect(await h.loop.run(until: { !channel.isOpen }))
        #expect(Array(written.take().readableBytesView) == [0x88, 2, 0x03, 0xE8])
        #expect(await h.loop.run(until: { h.relay.players(of: "live/cam")?[.wsFLV] == nil }))
    }

    @Test func anOversizedClientFrameIsAProtocolErrorClosedWith1009() async throws {
        let h = Harness()
        let publisher = try TestPublisher(id: "live/cam", relay: h.relay, loop: h.loop)
        publisher.sendKeyFrame(at: 0)
        let (channel, written) = try h.upgrade("/live/cam.flv")
        #expect(await h.loop.run(until: { h.relay.players(of: "live/cam") == [.wsFLV: 1] }))
        _ = written.take()
        // A binary frame announcing 1 MiB (> maxFrameSize): refused from its header.
        channel.receive(ByteBuffer(bytes: [0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4]))
        #expect(await h.loop.run(until: { !channel.isOpen }))
        #expect(Array(written.take().readableBytesView.prefix(4)) == [0x88, 2, 0x03, 0xF1])
    }

    @Test func whenTheStreamEndsThePlayerGetsClose1000ThenTheConnectionCloses() async throws {
        let h = Harness()
        let publisher = try TestPublisher(id: "live/cam", relay: h.relay, loop: h.loop)
        publisher.sendKeyFrame(at: 0)
        let (channel, written) = try h.upgrade("/live/cam.flv")
        #expect(await h.loop.run(until: { h.relay.players(of: "live/cam") == [.wsFLV: 1] && written.buffer.readableBytes > 200 }))
        _ = written.take()
        Self.end(publisher)
        #expect(await h.loop.run(until: { !channel.isOpen }))
        #expect(Array(written.take().readableBytesView.suffix(4)) == [0x88, 2, 0x03, 0xE8])
    }

    @Test func aBadHandshakeIs400AndAnUnknownStream404WithoutUpgrade() async throws {
        let h = Harness()
        let (badChannel, bad) = try h.capturedChannel(ip: "192.0.2.3", port: 6003)
        try badChannel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try badChannel.pipeline.syncOperations.addHandler(HTTPFLVHandler(relay: h.relay, logger: h.relay.logger))
        badChannel.activate()
        badChannel.receive(ByteBuffer(string: "GET /live/cam.flv HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        #expect(await h.loop.run(until: { !badChannel.isOpen }))
        #expect(Self.text(bad.buffer).hasPrefix("HTTP/1.1 400"))

        let (channel, written) = try h.upgrade("/live/none.flv")
        let step = TimeAmount.milliseconds(Int64(max(1, h.relay.config.source.playWaitMs / 100)))
        #expect(await h.loop.run(until: { Self.text(written.buffer).hasPrefix("HTTP/1.1 404") }, step: step))
        #expect(await h.loop.run(until: { !channel.isOpen }))
    }
}
