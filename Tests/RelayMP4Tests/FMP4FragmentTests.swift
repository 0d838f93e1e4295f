import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayMP4

@Suite struct FMP4FragmentTests {
    @Test func everyPacketIsAMoofAndMdatWithItsTimingAndFlags() throws {
        let video = try FMP4Fixtures.h264(), audio = try FMP4Fixtures.aac()
        // 25 fps video in ms with a B-frame-like composition offset, AAC frames of 1024/44100 s.
        let packets = [
            FMP4Fixtures.packet(video, dts: 0, pts: 80, key: true, bytes: 300, seed: 1),
            FMP4Fixtures.packet(audio, dts: 0, bytes: 20, seed: 2),
            FMP4Fixtures.packet(video, dts: 40, pts: 40, bytes: 50, seed: 3),
            FMP4Fixtures.packet(audio, dts: 23, bytes: 21, seed: 4),
            FMP4Fixtures.packet(video, dts: 80, pts: 160, bytes: 60, seed: 5),
            FMP4Fixtures.packet(video, dts: 140, pts: 140, bytes: 70, seed: 6),
            FMP4Fixtures.packet(audio, dts: 100, bytes: 22, seed: 7),
        ]
        let (_, bytes) = FMP4Fixtures.mux([video, audio], packets)
        let fragments = try #require(ReadFragment.parseAll(bytes))
        #expect(fragments.count == packets.count)
        #expect(bytes.readableBytes == packets.reduce(0) { $0 + $1.payload.readableBytes + FMP4Fragment.overhead })
        #expect(fragments.map(\.sequence) == Array(1...UInt32(packets.count)), "mfhd sequence numbers increase")
        #expect(fragments.map(\.trackID) == [1, 2, 1, 2, 1, 1, 2])
        for (fragment, packet) in zip(fragments, packets) {
            #expect(fragment.tfhdFlags == 0x02_0000, "default-base-is-moof")
            #expect(fragment.trunVersion == 1 && fragment.trunFlags == 0x00_0F01 && fragment.sampleCount == 1)
            #expect(fragment.sample == Array(packet.payload.readableBytesView), "data_offset points at the sample")
            #expect(fragment.mdatPayload == fragment.sample, "the mdat holds exactly the payload")
        }
        let v = fragments.filter { $0.trackID == 1 }, a = fragments.filter { $0.trackID == 2 }
        #expect(v.map(\.decodeTime) == [0, 3600, 7200, 12_600], "ms → 90 kHz")
        #expect(v.map(\.compositionOffset) == [7200, 0, 7200, 0])
        #expect(v.map(\.duration) == [3600, 3600, 3600, 5400], "1/25 s first, then the last dts step")
        #expect(v.map(\.sampleFlags) == [0x0200_0000, 0x0101_0000, 0x0101_0000, 0x0101_0000], "sync, then non-sync")
        // 23 ms is 1014 at 44.1 kHz: within half a frame of the first frame's end, so contiguous;
        // 100 ms is a gap (a lost frame), kept.
        #expect(a.map(\.decodeTime) == [0, 1024, 4410])
        #expect(a.map(\.duration) == [1024, 1024, 1024])
        #expect(a.allSatisfy { $0.sampleFlags == 0x0200_0000 })
    }

    @Test func httpFramingIsOneChunkPerSegment() throws {
        let video = try FMP4Fixtures.h264()
        let muxer = FMP4Muxer(framing: .httpChunked)
        #expect(muxer.segmentPrefixSize == HTTPChunkFraming.prefixSize)
        #expect(FMP4Muxer(framing: .none).segmentPrefixSize == 0)
        var segment = ByteBuffer(repeating: 0, count: muxer.segmentPrefixSize)
        muxer.writeHeader(streams: [video], into: &segment)
        muxer.mux(FMP4Fixtures.packet(video, dts: 0, key: true), stream: video, into: &segment)
        let body = segment.readableBytes - muxer.segmentPrefixSize
        muxer.finishSegment(&segment)
        let line = segment.getString(at: 0, length: 10)
        #expect(line == String(format: "%08x\r\n", body))
        #expect(segment.getString(at: segment.writerIndex - 2, length: 2) == "\r\n")
        #expect(FMP4Muxer.factory().kind == .fmp4 && FMP4Muxer.webSocketFactory().kind == .wsFMP4)
        #expect(FMP4Muxer.webSocketFactory().make().segmentPrefixSize == 0)
    }

    @Test func aConfigChangeIsANewInitSegmentInBand() throws {
        let video = try FMP4Fixtures.h264(), audio = try FMP4Fixtures.aac()
        let muxer = FMP4Muxer(framing: .none)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [video, audio], into: &out)
        out.clear()
        muxer.mux(FMP4Fixtures.packet(video, dts: 0, key: true), stream: video, into: &out)
        out.clear()
        let hevc = try FMP4Fixtures.h265(index: 0, timebase: 1000)
        muxer.configChanged(hevc, streams: [hevc, audio], into: &out)
        let boxes = try #require(ReadBox.parse(out))
        #expect(boxes.map(\.type) == ["ftyp", "moov"], "a segment that begins with ftyp")
        #expect(boxes[1].find("trak/mdia/minf/stbl/stsd")?.boxes(after: 8).first?.type == "hvc1")
        // The clock and the sequence go on across the change.
        out.clear()
        muxer.mux(FMP4Fixtures.packet(hevc, dts: 40, key: true), stream: hevc, into: &out)
        let next = try #require(ReadFragment.parseAll(out)?.first)
        #expect(next.sequence == 2 && next.decodeTime == 3600)
    }

    @Test func aSampleRateChangeRescalesTheAudioClock() throws {
        let audio = try FMP4Fixtures.aac()
        let muxer = FMP4Muxer(framing: .none)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [audio], into: &out)
        muxer.mux(FMP4Fixtures.packet(audio, dts: 1000), stream: audio, into: &out)
        let faster = try AVStream.aac(index: 1, timebase: 1000, sampleRate: 48_000, channels: 2)
        muxer.configChanged(faster, streams: [faster], into: &out)
        out.clear()
        muxer.mux(FMP4Fixtures.packet(faster, dts: 1000), stream: faster, into: &out)
        #expect(try #require(ReadFragment.parseAll(out)).map(\.decodeTime) == [48_000])
    }
}
