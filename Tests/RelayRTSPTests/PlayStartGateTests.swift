import NIOCore
import RelayCore
import RelayRTP
@testable import RelayRTSP
import RelayTestSupport
import Testing

/// The play start gate over what the moved RTP muxer (RelayRTP) really writes.
@Suite struct PlayStartGateTests {
    static let layout = RTPChannelLayout([
        .init(streamIndex: 1, rtp: 2, rtcp: 3),
        .init(streamIndex: 0, rtp: 0, rtcp: 1),
    ])

    func streams() throws -> [AVStream] {
        [try AVStream.h264(index: 0, timebase: 1000, sps: [SDPTests.sps264], pps: [SDPTests.pps264]),
         try AVStream.aac(index: 1, timebase: 44100, sampleRate: 44100, channels: 2)]
    }

    func video(_ ms: Int64, key: Bool, size: Int = 100) -> AVPacket {
        AVPacket(streamIndex: 0, codec: .h264, dts: ms, pts: ms + 40, isKeyFrame: key,
                 payload: accessUnit([[key ? 0x65 : 0x41] + pattern(size)]))
    }

    func audio(_ samples: Int64) -> AVPacket {
        AVPacket(streamIndex: 1, codec: .aac, dts: samples, pts: samples, isKeyFrame: true, payload: ByteBuffer(bytes: pattern(200)))
    }

    @Test func playStartGateFindsEachTracksFirstPacketFromTheFirstKeySegment() throws {
        let streams = try streams()
        let muxer = RTPMuxer(layout: Self.layout)
        var header = ByteBuffer()
        muxer.writeHeader(streams: streams, into: &header)
        func segment(_ p: AVPacket, key: Bool) -> Segment {
            var b = ByteBuffer()
            muxer.mux(p, stream: streams[p.streamIndex], into: &b)
            return Segment(bytes: b, startsWithKeyFrame: key)
        }
        var gate = PlayStartGate(rtpChannels: [0, 2])
        gate.offer(segment(video(0, key: false), key: false))
        #expect(gate.segments.isEmpty, "nothing before a key frame")
        let keySegment = segment(video(40, key: true), key: true)
        gate.offer(keySegment)
        #expect(!gate.isComplete)
        let firstVideo = try #require(parseFrames(keySegment.bytes).first { $0.channel == 0 })
        #expect(gate.starts[0] == RTPStart(sequence: firstVideo.header.sequence, rtpTime: firstVideo.header.timestamp,
                                           ssrc: firstVideo.header.ssrc))
        let audioSegment = segment(audio(4410), key: false)
        gate.offer(audioSegment)
        #expect(gate.isComplete)
        let firstAudio = try #require(parseFrames(audioSegment.bytes).first { $0.channel == 2 })
        #expect(gate.starts[2]?.sequence == firstAudio.header.sequence)
        #expect(gate.segments.count == 2)
    }
}
