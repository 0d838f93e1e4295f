import NIOCore
import RelayCore
@testable import RelayRTSP
import RelayTestSupport
import Testing

/// The RTSP player session without sockets: OPTIONS → DESCRIBE → SETUP (TCP interleaved) → PLAY
/// as bytes through the listener's decoder and RTSPServerHandler, answers and `$` frames read back.
@Suite struct RTSPSessionTests {
    final class Harness: TestRelay {
        let ports = UDPPortAllocator(min: 31000, max: 31099)

        func connect(port: Int = 7000) throws -> (ManualChannel, WrittenBytes) {
            let (channel, written) = try capturedChannel(ip: "192.0.2.3", port: port)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPFrameDecoder(
                maxHeadBytes: relay.config.rtsp.maxHeaderBytes, maxBodyBytes: RTSPServer.maxBodyBytes)))
            try channel.pipeline.syncOperations.addHandler(RTSPServerHandler(relay: relay, ports: ports))
            channel.activate()
            return (channel, written)
        }
    }

    /// Sends one request and waits for its answer (the text up to the blank line, plus body).
    static func ask(_ h: Harness, _ channel: ManualChannel, _ written: WrittenBytes, _ request: String) async -> String {
        channel.receive(ByteBuffer(string: request))
        _ = await h.loop.run(until: { String(decoding: written.buffer.readableBytesView, as: UTF8.self).contains("\r\n\r\n") })
        return String(decoding: written.take().readableBytesView, as: UTF8.self)
    }

    @Test func describeSetupPlayDeliversInterleavedRTP() async throws {
        let h = Harness()
        let publisher = try TestPublisher(id: "live/cam", relay: h.relay, loop: h.loop)
        publisher.sendKeyFrame(at: 0)
        let (channel, written) = try h.connect()
        let url = "rtsp://127.0.0.1:8554/live/cam"

        let options = await Self.ask(h, channel, written, "OPTIONS \(url) RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        #expect(options.hasPrefix("RTSP/1.0 200 OK\r\nCSeq: 1\r\n"))
        #expect(options.contains("DESCRIBE") && options.contains("PLAY"))

        let describe = await Self.ask(h, channel, written, "DESCRIBE \(url) RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n")
        #expect(describe.hasPrefix("RTSP/1.0 200 OK"))
        #expect(describe.contains("Content-Base: \(url)/"))
        #expect(describe.contains("a=rtpmap:96 H264/90000"))
        #expect(describe.contains("sprop-parameter-sets="))
        #expect(describe.contains("a=rtpmap:97 MPEG4-GENERIC/44100/2"))

        let setup = await Self.ask(h, channel, written,
                                   "SETUP \(url)/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
        #expect(setup.contains("Transport: RTP/AVP/TCP;unicast;interleaved=0-1"))
        let session = try #require(setup.split(separator: "\r\n").first { $0.hasPrefix("Session: ") })
            .dropFirst("Session: ".count).split(separator: ";").first.map(String.init)

        channel.receive(ByteBuffer(string: "PLAY \(url) RTSP/1.0\r\nCSeq: 4\r\nSession: \(session ?? "")\r\n\r\n"))
        // The answer, then `$` frames: an RTCP SR on channel 1, the cached key frame's RTP
        // packets on channel 0.
        let idr: [UInt8] = [0x65, 0x88, 0x84, 0x00, 0x21]
        #expect(await h.loop.run(until: { written.buffer.readableBytesView.firstRange(of: idr) != nil }))
        let bytes = Array(written.buffer.readableBytesView)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("RTSP/1.0 200 OK\r\nCSeq: 4"))
        var frames: [(channel: UInt8, payload: ArraySlice<UInt8>)] = []
        var at = try #require(bytes.firstIndex(of: 0x24))
        while at + 4 <= bytes.count, bytes[at] == 0x24 {
            let length = Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            guard at + 4 + length <= bytes.count else { break }
            frames.append((bytes[at + 1], bytes[(at + 4)..<(at + 4 + length)]))
            at += 4 + length
        }
        let video = frames.filter { $0.channel == 0 }
        #expect(!video.isEmpty)
        #expect(video.allSatisfy { $0.payload.first.map { $0 & 0xC0 == 0x80 } == true })                      // RTP v2
        #expect(video.allSatisfy { $0.payload.dropFirst().first.map { $0 & 0x7F == 96 } == true })            // PT 96
        #expect(video.contains { $0.payload.firstRange(of: idr) != nil })
    }

    @Test func describeOfAnUnknownStreamIs404() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        channel.receive(ByteBuffer(string: "DESCRIBE rtsp://h/live/none RTSP/1.0\r\nCSeq: 2\r\n\r\n"))
        let step = TimeAmount.milliseconds(Int64(max(1, h.relay.config.source.playWaitMs / 100)))
        #expect(await h.loop.run(until: { String(decoding: written.buffer.readableBytesView, as: UTF8.self).contains("\r\n\r\n") },
                                 step: step))
        #expect(String(decoding: written.buffer.readableBytesView, as: UTF8.self).hasPrefix("RTSP/1.0 404"))
    }

    @Test func aMalformedRequestIsAnswered400AndClosed() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        channel.receive(ByteBuffer(string: "DESCRIBE rtsp://h/live/a RTSP/1.0\r\n\u{01}broken header\r\n\r\n"))
        #expect(await h.loop.run(until: { !channel.isOpen }))
        #expect(String(decoding: written.buffer.readableBytesView, as: UTF8.self).hasPrefix("RTSP/1.0 400"))
    }

    @Test func anEmptyTransportParameterDoesNotTrap() async throws {
        let h = Harness()
        let publisher = try TestPublisher(id: "live/cam", relay: h.relay, loop: h.loop)
        publisher.sendKeyFrame(at: 0)
        let (channel, written) = try h.connect()
        _ = await Self.ask(h, channel, written, "DESCRIBE rtsp://h/live/cam RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        let setup = await Self.ask(h, channel, written,
                                   "SETUP rtsp://h/live/cam/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP; ;=;interleaved=0-1\r\n\r\n")
        #expect(setup.hasPrefix("RTSP/1.0 200 OK"))
        #expect(channel.isOpen)
    }
}
