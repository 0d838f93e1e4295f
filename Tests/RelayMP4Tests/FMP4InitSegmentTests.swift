import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayMP4

@Suite struct FMP4InitSegmentTests {
    @Test func h264AndAACMakeAnFtypAndAMoovWithTwoTracks() throws {
        let video = try FMP4Fixtures.h264(), audio = try FMP4Fixtures.aac()
        let header = FMP4Fixtures.mux([audio, video], []).header
        let top = try #require(ReadBox.parse(header))
        #expect(top.map(\.type) == ["ftyp", "moov"])
        #expect(top.reduce(0) { $0 + $1.size } == header.readableBytes)
        let ftyp = top[0]
        #expect(ftyp.body.getString(at: ftyp.body.readerIndex, length: 4) == "iso6")
        let brands = ftyp.body.getString(at: ftyp.body.readerIndex + 8, length: ftyp.body.readableBytes - 8) ?? ""
        #expect(brands.contains("iso6") && brands.contains("cmfc"), "\(brands)")

        let moov = top[1]
        #expect(moov.children.map(\.type) == ["mvhd", "trak", "trak", "mvex"])
        #expect(moov.child("mvhd")?.int(at: 96, as: UInt32.self) == 3, "next_track_ID")
        let traks = moov.all("trak")
        // Track 1 video, track 2 audio, whatever the source's order.
        #expect(traks.map { $0.find("tkhd")?.int(at: 12, as: UInt32.self) } == [1, 2])
        #expect(traks.map { $0.find("mdia/hdlr")?.body.getString(at: $0.find("mdia/hdlr")!.body.readerIndex + 8, length: 4) }
                == ["vide", "soun"])
        #expect(traks.map { $0.find("mdia/mdhd")?.int(at: 12, as: UInt32.self) } == [90_000, 44_100])
        let tkhd = try #require(traks[0].find("tkhd"))
        #expect(tkhd.int(at: 76, as: UInt32.self) == 1280 << 16 && tkhd.int(at: 80, as: UInt32.self) == 720 << 16)
        #expect(moov.find("mvex")?.all("trex").map { $0.int(at: 4, as: UInt32.self) } == [1, 2])

        // avc1 (78 bytes of visual sample entry, then avcC holding the stream's record).
        let stsd = try #require(traks[0].find("mdia/minf/stbl/stsd"))
        #expect(stsd.int(at: 4, as: UInt32.self) == 1)
        let avc1 = try #require(stsd.boxes(after: 8).first)
        #expect(avc1.type == "avc1")
        #expect(avc1.int(at: 24, as: UInt16.self) == 1280 && avc1.int(at: 26, as: UInt16.self) == 720)
        let avcC = try #require(avc1.boxes(after: 78).first { $0.type == "avcC" })
        #expect(avcC.body == video.extradata)
        for box in ["stts", "stsc", "stsz", "stco"] {
            #expect(traks[0].find("mdia/minf/stbl/\(box)") != nil, "\(box)")
        }
        #expect(traks[0].find("mdia/minf/vmhd") != nil && traks[1].find("mdia/minf/smhd") != nil)
        #expect(traks[0].find("mdia/minf/dinf/dref") != nil)

        // mp4a (28 bytes of audio sample entry) > esds > … DecoderSpecificInfo = the ASC.
        let mp4a = try #require(traks[1].find("mdia/minf/stbl/stsd")?.boxes(after: 8).first)
        #expect(mp4a.type == "mp4a")
        #expect(mp4a.int(at: 16, as: UInt16.self) == 2 && mp4a.int(at: 24, as: UInt32.self) == 44_100 << 16)
        let esds = try #require(mp4a.boxes(after: 28).first { $0.type == "esds" })
        let descriptors = Array(esds.body.readableBytesView.dropFirst(4))
        #expect(descriptors.first == 0x03)
        #expect(Self.descriptorPayload(descriptors, tag: 0x04)?.first == 0x40, "object type: MPEG-4 audio")
        #expect(Self.descriptorPayload(descriptors, tag: 0x05) == [0x12, 0x10])
        #expect(Self.descriptorPayload(descriptors, tag: 0x06) == [0x02])
    }

    @Test func h265IsAnHvc1WithTheRecord() throws {
        let video = try FMP4Fixtures.h265()
        let header = FMP4Fixtures.mux([video], []).header
        let moov = try #require(ReadBox.parse(header)?.last)
        #expect(moov.all("trak").count == 1)
        #expect(moov.child("mvhd")?.int(at: 96, as: UInt32.self) == 2, "next_track_ID")
        let hvc1 = try #require(moov.find("trak/mdia/minf/stbl/stsd")?.boxes(after: 8).first)
        #expect(hvc1.type == "hvc1")
        #expect(hvc1.boxes(after: 78).first { $0.type == "hvcC" }?.body == video.extradata)
    }

    @Test func g711IsLeftOutAndLoggedOnce() throws {
        let log = LogLines()
        let muxer = FMP4Muxer(framing: .none, logger: log.logger(label: "test"))
        let video = try FMP4Fixtures.h264(), alaw = AVStream.g711(.g711a, index: 1, timebase: 8000)
        let (header, fragments) = FMP4Fixtures.mux([video, alaw], [FMP4Fixtures.packet(alaw, dts: 0, bytes: 160)], muxer: muxer)
        let moov = try #require(ReadBox.parse(header)?.last)
        #expect(moov.all("trak").count == 1 && moov.find("trak/mdia/minf/vmhd") != nil)
        #expect(fragments.readableBytes == 0, "no fragment for a track the init segment does not declare")
        var again = ByteBuffer()
        muxer.configChanged(video, streams: [video, alaw], into: &again)
        #expect(log.lines.filter { $0.contains("leaves out") && $0.contains("g711a") }.count == 1, "\(log.lines)")
    }

    @Test func streamsWithoutExtradataUseTheirParametersOrAreLeftOut() throws {
        var video = try FMP4Fixtures.h264()
        video.extradata = ByteBuffer()  // an ingest that only parsed SPS/PPS
        let audio = AVStream(index: 1, codec: .aac, timebase: 1000, audio: AudioParameters(sampleRate: 48_000, channels: 1))
        let bare = AVStream(index: 2, codec: .h265, timebase: 90_000)  // nothing at all
        let moov = try #require(ReadBox.parse(FMP4Fixtures.mux([video, audio, bare], []).header)?.last)
        let traks = moov.all("trak")
        #expect(traks.count == 2)
        let avc1 = traks.first?.find("mdia/minf/stbl/stsd")?.boxes(after: 8).first
        #expect(avc1?.type == "avc1")
        let record = try #require(avc1?.boxes(after: 78).first { $0.type == "avcC" }?.body)
        #expect(try AVCDecoderConfigurationRecord(parsing: record).sps.count == 1)
        #expect(traks.last?.find("mdia/mdhd")?.int(at: 12, as: UInt32.self) == 48_000)
        // Nothing usable: an init segment with no track, no trap.
        let empty = FMP4Fixtures.mux([bare], []).header
        #expect(ReadBox.parse(empty)?.last?.all("trak").isEmpty == true)
    }

    @Test func aRecordWithShortNALLengthsIsRewrittenToFourBytes() throws {
        var video = try FMP4Fixtures.h264()
        var record = try AVCDecoderConfigurationRecord(parsing: video.extradata)
        record.nalLengthSize = 2
        video.extradata = record.encoded()
        let moov = try #require(ReadBox.parse(FMP4Fixtures.mux([video], []).header)?.last)
        let avcC = try #require(moov.find("trak/mdia/minf/stbl/stsd")?.boxes(after: 8).first?.boxes(after: 78).first)
        let written = try AVCDecoderConfigurationRecord(parsing: avcC.body)
        #expect(written.nalLengthSize == 4 && written.sps == record.sps && written.pps == record.pps)
    }

    /// The payload of the first descriptor with `tag` (4-byte expandable sizes as the muxer writes).
    static func descriptorPayload(_ bytes: [UInt8], tag: UInt8) -> [UInt8]? {
        var i = 0
        while i + 5 <= bytes.count {
            var size = 0
            for k in 1...4 { size = size << 7 | Int(bytes[i + k] & 0x7F) }
            if bytes[i] == tag { return Array(bytes[(i + 5)..<min(bytes.count, i + 5 + size)]) }
            // ES_Descriptor and DecoderConfigDescriptor contain the others: step into them.
            i += bytes[i] == 0x03 ? 5 + 3 : bytes[i] == 0x04 ? 5 + 13 : 5 + size
        }
        return nil
    }
}
