import NIOCore
import RelayCore
import RelayRTP
@testable import RelayRTSP
import RelayTestSupport
import Testing

/// The RTSP publisher session without sockets: ANNOUNCE → SETUP (mode=record, TCP interleaved)
/// → RECORD as bytes through the listener's decoder and RTSPServerHandler, and what goes wrong.
@Suite struct RTSPPublishTests {
    typealias Harness = RTSPSessionTests.Harness
    static let url = "rtsp://127.0.0.1:8554/live/x"
    static let sdp = """
        v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r
        m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z/QADZGbKCg/YCIAAAMAAgAAAwBkHihTLA==,aOvjxEhE; profile-level-id=F4000D\r
        a=control:streamid=0\r\nm=audio 0 RTP/AVP 8\r\nb=AS:64\r\na=control:streamid=1\r\n
        """

    static func announce(_ sdp: String = sdp, cseq: Int = 2) -> String {
        "ANNOUNCE \(url) RTSP/1.0\r\nCSeq: \(cseq)\r\nContent-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
    }

    static func setup(_ track: Int, cseq: Int, session: String? = nil) -> String {
        let s = session.map { "Session: \($0)\r\n" } ?? ""
        return "SETUP \(url)/streamid=\(track) RTSP/1.0\r\nCSeq: \(cseq)\r\n\(s)"
            + "Transport: RTP/AVP/TCP;unicast;interleaved=\(2 * track)-\(2 * track + 1);mode=record\r\n\r\n"
    }

    static func sessionID(_ answer: String) -> String? {
        answer.split(separator: "\r\n").first { $0.hasPrefix("Session: ") }
            .map { String($0.dropFirst("Session: ".count).split(separator: ";")[0]) }
    }

    /// Publishes `live/x` on a new connection; returns it and the session id.
    static func publish(_ h: Harness, port: Int = 7100) async throws -> (ManualChannel, WrittenBytes, String, String) {
        let (channel, written) = try h.connect(port: port)
        let announced = await RTSPSessionTests.ask(h, channel, written, announce())
        #expect(announced.hasPrefix("RTSP/1.0 200 OK"))
        let first = await RTSPSessionTests.ask(h, channel, written, setup(0, cseq: 3))
        #expect(first.hasPrefix("RTSP/1.0 200 OK") && first.contains("interleaved=0-1;mode=record"))
        let session = try #require(sessionID(first))
        _ = await RTSPSessionTests.ask(h, channel, written, setup(1, cseq: 4, session: session))
        let record = await RTSPSessionTests.ask(h, channel, written,
                                                "RECORD \(url) RTSP/1.0\r\nCSeq: 5\r\nSession: \(session)\r\n\r\n")
        return (channel, written, session, record)
    }

    static func interleaved(_ channel: UInt8, _ packet: ByteBuffer) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt8(0x24))
        b.writeInteger(channel)
        b.writeInteger(UInt16(packet.readableBytes))
        b.writeImmutableBuffer(packet)
        return b
    }

    @Test func announceSetupRecordFeedsTheSource() async throws {
        let h = Harness()
        let (channel, _, _, record) = try await Self.publish(h)
        #expect(record.hasPrefix("RTSP/1.0 200 OK"))
        let source = try #require(h.relay.registry.source("live/x"))
        #expect(source.publisher.protocolName == "rtsp")
        // 50 G.711 packets of 20 ms on channel 2: the audio track gets them.
        for n in 0..<50 {
            let packet = RTPPacket(marker: false, payloadType: 8, sequence: UInt16(n), timestamp: UInt32(n * 160), ssrc: 7,
                                   payload: ByteBuffer(repeating: 0xD5, count: 160))
            var bytes = ByteBuffer()
            packet.write(into: &bytes)
            channel.receive(Self.interleaved(2, bytes))
        }
        #expect(await h.loop.run(until: { h.relay.sourceIsReady("live/x") }))
        #expect(channel.isActive)
    }

    @Test func recordBeforeSetupIs455() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        _ = await RTSPSessionTests.ask(h, channel, written, Self.announce())
        let record = await RTSPSessionTests.ask(h, channel, written, "RECORD \(Self.url) RTSP/1.0\r\nCSeq: 3\r\n\r\n")
        #expect(record.hasPrefix("RTSP/1.0 455"))
        #expect(h.relay.registry.source("live/x") == nil)
    }

    @Test func badOrUnsupportedSDPIsRefused() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        let bad = await RTSPSessionTests.ask(h, channel, written, Self.announce("hello"))
        #expect(bad.hasPrefix("RTSP/1.0 400"))
        let opus = "v=0\r\nm=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        let unsupported = await RTSPSessionTests.ask(h, channel, written, Self.announce(opus, cseq: 3))
        #expect(unsupported.hasPrefix("RTSP/1.0 415"))
        #expect(unsupported.contains("OPUS/48000"))
        let setup = await RTSPSessionTests.ask(h, channel, written, Self.setup(0, cseq: 4))
        #expect(setup.hasPrefix("RTSP/1.0 455"))
    }

    @Test func hugeAnnounceBodyIs413AndCloses() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        let sdp = "v=0\r\n" + String(repeating: "a=x:\(String(repeating: "y", count: 90))\r\n", count: 100)
        let answer = await RTSPSessionTests.ask(h, channel, written, Self.announce(sdp))
        #expect(answer.hasPrefix("RTSP/1.0 413"))
        #expect(await h.loop.run(until: { !channel.isActive }))
    }

    @Test func interleavedDataOnAnUnknownChannelIsDropped() async throws {
        let h = Harness()
        let (channel, _, _, record) = try await Self.publish(h)
        #expect(record.hasPrefix("RTSP/1.0 200 OK"))
        channel.receive(Self.interleaved(9, ByteBuffer(bytes: [0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x65])))
        channel.receive(Self.interleaved(0, ByteBuffer(bytes: [1, 2, 3])))  // not RTP: dropped
        h.loop.run()
        #expect(channel.isActive)
        #expect(h.relay.registry.source("live/x") != nil)
    }

    @Test func interleavedDataBeforeSetupCloses() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        _ = await RTSPSessionTests.ask(h, channel, written, Self.announce())
        channel.receive(Self.interleaved(0, ByteBuffer(bytes: [0x80, 0x60, 0, 1])))
        #expect(await h.loop.run(until: { !channel.isActive }))
    }

    @Test func aSecondPublisherOfALiveIDIs409() async throws {
        let h = Harness()
        let (first, _, _, record) = try await Self.publish(h)
        #expect(record.hasPrefix("RTSP/1.0 200 OK"))
        let (second, _, _, refused) = try await Self.publish(h, port: 7101)
        #expect(refused.hasPrefix("RTSP/1.0 409"))
        #expect(await h.loop.run(until: { !second.isActive }))
        #expect(first.isActive)
    }

    @Test func teardownEndsTheStream() async throws {
        let h = Harness()
        let (channel, written, session, _) = try await Self.publish(h)
        let answer = await RTSPSessionTests.ask(h, channel, written, "TEARDOWN \(Self.url) RTSP/1.0\r\nCSeq: 9\r\nSession: \(session)\r\n\r\n")
        #expect(answer.hasPrefix("RTSP/1.0 200 OK"))
        #expect(await h.loop.run(until: { h.relay.registry.source("live/x") == nil }))
    }
}
