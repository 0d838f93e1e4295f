import NIOCore
import RelayCore
@testable import RelayRTP
import RelayTestSupport
import Testing

@Suite struct RTPMuxerTests {
    static let layout = RTPChannelLayout([
        .init(streamIndex: 1, rtp: 2, rtcp: 3),
        .init(streamIndex: 0, rtp: 0, rtcp: 1),
    ])

    static let sps = hexBuffer("6742c01fda014016ec0440000003004000000c83c60ca8")
    static let pps = hexBuffer("68ce0fc8")

    func streams() throws -> [AVStream] {
        [try AVStream.h264(index: 0, timebase: 1000, sps: [Self.sps], pps: [Self.pps]),
         try AVStream.aac(index: 1, timebase: 44100, sampleRate: 44100, channels: 2)]
    }

    func video(_ ms: Int64, key: Bool, size: Int = 100) -> AVPacket {
        AVPacket(streamIndex: 0, codec: .h264, dts: ms, pts: ms + 40, isKeyFrame: key,
                 payload: accessUnit([[key ? 0x65 : 0x41] + pattern(size)]))
    }

    func audio(_ samples: Int64) -> AVPacket {
        AVPacket(streamIndex: 1, codec: .aac, dts: samples, pts: samples, isKeyFrame: true, payload: ByteBuffer(bytes: pattern(200)))
    }

    @Test func layoutKindNamesTracksAndChannels() {
        #expect(Self.layout.kind.description == "rtsp/0:0-1/1:2-3")
        #expect(Self.layout.entry(forChannel: 3)?.streamIndex == 1)
        #expect(Self.layout.entry(forChannel: 9) == nil)
    }

    @Test func keyFramesArePrecededBySenderReportsAndTimestampsFollowTheClock() throws {
        let streams = try streams()
        let muxer = RTPMuxer(layout: Self.layout)
        var header = ByteBuffer()
        muxer.writeHeader(streams: streams, into: &header)
        #expect(header.readableBytes == 0)

        var out = ByteBuffer()
        muxer.mux(video(1000, key: true), stream: streams[0], into: &out)
        var frames = Array(InterleavedFrames(out))
        // SR (+SDES) for both tracks, then SPS, PPS, IDR in band.
        #expect(frames.map(\.channel) == [1, 3, 0, 0, 0])
        let srVideo = frames[0].packet, srAudio = frames[1].packet
        #expect(srVideo.getInteger(at: srVideo.readerIndex + 1, as: UInt8.self) == RTCP.senderReport)
        #expect(srVideo.getInteger(at: srVideo.readerIndex + 28 + 1, as: UInt8.self) == RTCP.sourceDescription)
        let ntpV = srVideo.getInteger(at: srVideo.readerIndex + 8, as: UInt64.self)!
        let ntpA = srAudio.getInteger(at: srAudio.readerIndex + 8, as: UInt64.self)!
        #expect(ntpV == ntpA, "one wall-clock instant for both tracks")
        let rtpV = srVideo.getInteger(at: srVideo.readerIndex + 16, as: UInt32.self)!
        let idr = try #require(RTPHeader(frames[4].packet))
        #expect(idr.marker)
        #expect(idr.timestamp &- rtpV == 40 * 90, "pts 40 ms after the report's instant (its dts)")
        #expect(srVideo.getInteger(at: srVideo.readerIndex + 4, as: UInt32.self) == idr.ssrc)

        out.clear()
        muxer.mux(video(1040, key: false), stream: streams[0], into: &out)
        frames = Array(InterleavedFrames(out))
        #expect(frames.map(\.channel) == [0], "no report between key frames within 5 s")
        let p = try #require(RTPHeader(frames[0].packet))
        #expect(p.timestamp &- idr.timestamp == 3600)
        #expect(p.sequence == idr.sequence &+ 1)

        out.clear()
        muxer.mux(audio(44100), stream: streams[1], into: &out)
        muxer.mux(audio(45124), stream: streams[1], into: &out)
        frames = Array(InterleavedFrames(out))
        #expect(frames.map(\.channel) == [2, 2])
        let a0 = try #require(RTPHeader(frames[0].packet)), a1 = try #require(RTPHeader(frames[1].packet))
        #expect(a1.timestamp &- a0.timestamp == 1024)
        #expect(a0.payloadType == 97 && idr.payloadType == 96)
        let rtpA = srAudio.getInteger(at: srAudio.readerIndex + 16, as: UInt32.self)!
        #expect(a0.timestamp == rtpA, "audio at 1 s is where the report at 1 s put it")
    }

    @Test func tracksOutsideTheLayoutAreNotSent() throws {
        let streams = try streams()
        let muxer = RTPMuxer(layout: RTPChannelLayout([.init(streamIndex: 0, rtp: 0, rtcp: 1)]))
        var out = ByteBuffer()
        muxer.writeHeader(streams: streams, into: &out)
        muxer.mux(audio(0), stream: streams[1], into: &out)
        #expect(out.readableBytes == 0)
        muxer.mux(video(0, key: true), stream: streams[0], into: &out)
        #expect(Array(InterleavedFrames(out)).map(\.channel) == [1, 0, 0, 0])
    }

    @Test func kindAndFactoryFollowTheCaller() throws {
        let muxer = RTPMuxer(layout: Self.layout)
        #expect(muxer.kind == Self.layout.kind)
        let other = OutputKind.rtpPS(RTPPSFormat(ssrc: 1, payloadType: 96))
        let factory = RTPMuxer.factory(layout: Self.layout, kind: other, maxPayload: 200, mergePolicy: .fixed(ms: 0))
        #expect(factory.kind == other && factory.mergePolicy == .fixed(ms: 0))
        #expect(RTPMuxer.factory(layout: Self.layout).kind == Self.layout.kind)
        let made = try #require(factory.make() as? RTPMuxer)
        #expect(made.kind == other && made.layout == Self.layout)
        let streams = try streams()
        var out = ByteBuffer()
        made.writeHeader(streams: streams, into: &out)
        made.mux(video(0, key: true, size: 1000), stream: streams[0], into: &out)
        let packets = Array(InterleavedFrames(out)).filter { $0.channel == 0 }
        #expect(packets.count > 3 && packets.allSatisfy { $0.packet.readableBytes <= 200 + 12 }, "maxPayload reaches the writers")
    }

    @Test func interleavedFramesStopAtAnIncompleteFrame() {
        var b = ByteBuffer()
        Interleaved.write(channel: 7, into: &b) { $0.writeBytes([1, 2, 3]) }
        Interleaved.write(channel: 8, into: &b) { $0.writeBytes([4]) }
        #expect(Array(b.readableBytesView) == [0x24, 7, 0, 3, 1, 2, 3, 0x24, 8, 0, 1, 4])
        #expect(Array(InterleavedFrames(b)).map { [$0.channel] + Array($0.packet.readableBytesView) } == [[7, 1, 2, 3], [8, 4]])
        var cut = b.getSlice(at: 0, length: b.readableBytes - 1)!
        #expect(Array(InterleavedFrames(cut)).count == 1)
        _ = Interleaved.readFrame(from: &cut)
        #expect(Interleaved.readFrame(from: &cut) == nil && cut.readableBytes == 4, "nothing read of the incomplete frame")
        var wrongMagic = ByteBuffer(bytes: [0x25, 7, 0, 1, 9])
        #expect(Interleaved.readFrame(from: &wrongMagic) == nil)
    }

    @Test func byeIsACompoundPacketWithCNAME() {
        var b = ByteBuffer()
        RTCP.writeBye(ssrc: 0xABCD, into: &b)
        // RR (8) + SDES (4 + 4 + 2 + 9 + pad to 20) + BYE (8)
        #expect(b.readableBytes == 8 + 20 + 8)
        #expect(b.getInteger(at: 1, as: UInt8.self) == RTCP.receiverReport)
        #expect(b.getInteger(at: 9, as: UInt8.self) == RTCP.sourceDescription)
        #expect(b.getInteger(at: 10, as: UInt16.self) == 4)
        #expect(b.getInteger(at: 29, as: UInt8.self) == RTCP.bye)
        #expect(RTCP.ntp(unixMicros: 1_500_000) == UInt64(2_208_988_801) << 32 | 0x8000_0000)
    }
}
