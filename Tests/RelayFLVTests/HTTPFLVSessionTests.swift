import NIOCore
import NIOHTTP1
import RelayCore
@testable import RelayFLV
import RelayTestSupport
import Testing

/// The HTTP-FLV player session without sockets: requests as bytes into the listener's pipeline
/// (HTTP decoder + HTTPFLVHandler), the response and FLV body read back as a player would.
@Suite struct HTTPFLVSessionTests {
    final class Harness: TestRelay {
        init() { super.init(muxers: [FLVMuxer.factory(hevcMode: .enhanced)]) }

        func request(_ text: String, port: Int = 6000) throws -> (ManualChannel, WrittenBytes) {
            let (channel, written) = try capturedChannel(ip: "192.0.2.2", port: port)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(HTTPFLVHandler(relay: relay, logger: relay.logger))
            channel.activate()
            channel.receive(ByteBuffer(string: text))
            return (channel, written)
        }
    }

    static func text(_ written: WrittenBytes) -> String {
        String(decoding: written.buffer.readableBytesView, as: UTF8.self)
    }

    @Test func aPlayerGetsTheFLVHeaderAndTheCachedKeyFrame() async throws {
        let h = Harness()
        let publisher = try TestPublisher(id: "live/cam", relay: h.relay, loop: h.loop)
        publisher.sendKeyFrame(at: 0)
        let (channel, written) = try h.request("GET /live/cam.flv?token=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        // Head, FLV header, metadata, two sequence headers, the key frame and its audio.
        #expect(await h.loop.run(until: { written.buffer.readableBytes > 200 }))
        let body = written.buffer.readableBytesView
        #expect(Self.text(written).hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(Self.text(written).contains("Content-Type: video/x-flv"))
        #expect(Self.text(written).contains("Transfer-Encoding: chunked"))
        // "FLV", version 1, audio+video flags (5).
        #expect(body.firstRange(of: [0x46, 0x4C, 0x56, 0x01, 0x05]) != nil)
        // The cached IDR NAL unit is in the body.
        #expect(body.firstRange(of: TestPublisher.keyFrame) != nil)
        #expect(channel.isOpen)
        #expect(h.relay.players(of: "live/cam") == [.flv: 1])
    }

    @Test func anUnknownStreamIsAnswered404AfterTheWait() async throws {
        let h = Harness()
        let (channel, written) = try h.request("GET /live/none.flv HTTP/1.1\r\n\r\n")
        let step = TimeAmount.milliseconds(Int64(max(1, h.relay.config.source.playWaitMs / 100)))
        #expect(await h.loop.run(until: { Self.text(written).hasPrefix("HTTP/1.1 404") }, step: step))
        #expect(await h.loop.run(until: { !channel.isOpen }))
    }

    @Test func aRequestWithABodyIsRefused() async throws {
        let h = Harness()
        let (channel, written) = try h.request("GET /live/cam.flv HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n")
        #expect(await h.loop.run(until: { !channel.isOpen }))
        #expect(Self.text(written).hasPrefix("HTTP/1.1 413"))
    }

    @Test func garbageIsAnsweredBadRequestAndClosed() async throws {
        let h = Harness()
        let (channel, written) = try h.request("\u{01}\u{02} nonsense\r\n\r\n")
        #expect(await h.loop.run(until: { !channel.isOpen }))
        #expect(Self.text(written).hasPrefix("HTTP/1.1 400"))
    }
}
