import NIOCore
import RelayTestSupport
import Testing
@testable import RelayCore

private let buf = hexBuffer

@Suite struct AVCConfigTests {
    @Test func parsesFFmpegFLVRecord() throws {
        let record = try AVCDecoderConfigurationRecord(parsing: buf(MediaFixtures.avcRecord))
        #expect(record.profileIndication == 77)
        #expect(record.profileCompatibility == 0x40)
        #expect(record.levelIndication == 31)
        #expect(record.nalLengthSize == 4)
        #expect(record.sps == [buf(MediaFixtures.avcSPS)])
        #expect(record.pps == [buf(MediaFixtures.avcPPS)])
    }

    @Test func buildMatchesFFmpegByteForByte() throws {
        let built = try AVCDecoderConfigurationRecord(sps: [buf(MediaFixtures.avcSPS)], pps: [buf(MediaFixtures.avcPPS)])
        #expect(built.encoded() == buf(MediaFixtures.avcRecord))
    }

    @Test(arguments: [
        (MediaFixtures.h264Main720SPS, MediaFixtures.h264Main720PPS, 1),
        (MediaFixtures.h264High1080SPS, MediaFixtures.h264High1080PPS, 1),
        (CodecFixtures.h264ScalingList1080SPS, MediaFixtures.h264High1080PPS, 1),
        (CodecFixtures.h264High444SPS, CodecFixtures.h264High444PPS, 3),
    ])
    func buildParseRoundTrip(sps: String, pps: String, chroma: Int) throws {
        let built = try AVCDecoderConfigurationRecord(sps: [buf(sps)], pps: [buf(pps), buf(pps)])
        let bytes = built.encoded()
        let parsed = try AVCDecoderConfigurationRecord(parsing: bytes)
        #expect(parsed == built)
        #expect(parsed.sps == [buf(sps)])
        #expect(parsed.pps.count == 2)
        #expect(Int(parsed.chromaFormat) == chroma)
        let parsedSPS = try H264.SPS(nal: buf(sps))
        #expect(Int(parsed.profileIndication) == parsedSPS.profileIdc)
        #expect(Int(parsed.levelIndication) == parsedSPS.levelIdc)
        // High (100) and High 4:4:4 (244) get the chroma/bit-depth trailer; Main does not.
        let trailer = parsed.profileIndication == 77 ? 0 : 4
        #expect(bytes.readableBytes == 6 + 2 + sps.count / 2 + 1 + 2 * (2 + pps.count / 2) + trailer)
    }

    @Test func twoByteLengthRecord() throws {
        var record = try AVCDecoderConfigurationRecord(sps: [buf(MediaFixtures.h264Main720SPS)],
                                                       pps: [buf(MediaFixtures.h264Main720PPS)], nalLengthSize: 2)
        #expect(try AVCDecoderConfigurationRecord(parsing: record.encoded()).nalLengthSize == 2)
        record.nalLengthSize = 1
        #expect(try AVCDecoderConfigurationRecord(parsing: record.encoded()).nalLengthSize == 1)
    }

    @Test func malformedRecordsThrow() throws {
        let good = hexBytes(MediaFixtures.avcRecord)
        // Version 0; a NAL length size of 3 (0xFE: lengthSizeMinusOne 2).
        expectRefused(good, spoiled: [(at: 0, byte: 0), (at: 4, byte: 0xFE)]) { _ = try AVCDecoderConfigurationRecord(parsing: $0) }
        #expect(throws: CodecError.self) { try AVCDecoderConfigurationRecord(sps: [], pps: [buf(MediaFixtures.h264Main720PPS)]) }
        #expect(throws: CodecError.self) { try AVCDecoderConfigurationRecord(sps: [buf(MediaFixtures.h264Main720SPS)], pps: []) }
        #expect(throws: CodecError.self) { try AVCDecoderConfigurationRecord(sps: [buf(MediaFixtures.h264Main720PPS)], pps: [buf("68")]) }
    }

    @Test func streamFromRecordAndFromParameterSets() throws {
        let fromRecord = try AVStream.h264(index: 0, timebase: 1000, avcRecord: buf(MediaFixtures.avcRecord))
        #expect(fromRecord.codec == .h264)
        #expect(fromRecord.extradata == buf(MediaFixtures.avcRecord))
        #expect(fromRecord.video == VideoParameters(width: 1280, height: 720, profile: 77, level: 31,
                                                    sps: [buf(MediaFixtures.avcSPS)], pps: [buf(MediaFixtures.avcPPS)]))

        let fromSets = try AVStream.h264(index: 3, timebase: 90000, sps: [buf(MediaFixtures.h264High1080SPS)],
                                         pps: [buf(MediaFixtures.h264High1080PPS)])
        #expect(fromSets.index == 3 && fromSets.timebase == 90000)
        #expect(fromSets.video?.width == 1920 && fromSets.video?.height == 1080)
        #expect(fromSets.video?.profile == 100 && fromSets.video?.level == 40)
        let record = try AVCDecoderConfigurationRecord(parsing: fromSets.extradata)
        #expect(record.sps == [buf(MediaFixtures.h264High1080SPS)])

        // A record without SPS parses, but is no usable track.
        #expect(throws: CodecError.self) { try AVStream.h264(index: 0, timebase: 1000, avcRecord: buf("0164001fffe000")) }
    }
}

@Suite struct HEVCConfigTests {
    @Test func parsesFFmpegMP4Record() throws {
        let record = try HEVCDecoderConfigurationRecord(parsing: buf(MediaFixtures.hvcRecord))
        #expect(record.profileTierLevel.profileIdc == 1)
        #expect(record.profileTierLevel.levelIdc == 93)
        #expect(record.profileTierLevel.compatibilityFlags == 0x6000_0000)
        #expect(record.profileTierLevel.constraintIndicatorFlags == 0x9000_0000_0000)
        #expect(record.chromaFormat == 1)
        #expect(record.bitDepthLumaMinus8 == 0)
        #expect(record.numTemporalLayers == 1)
        #expect(record.temporalIdNested)
        #expect(record.nalLengthSize == 4)
        #expect(record.vps == [buf(MediaFixtures.hvcVPS)])
        #expect(record.sps == [buf(MediaFixtures.hvcSPS)])
        #expect(record.pps == [buf(MediaFixtures.hvcPPS)])
    }

    @Test func buildMatchesFFmpegByteForByte() throws {
        let built = try HEVCDecoderConfigurationRecord(vps: [buf(MediaFixtures.hvcVPS)], sps: [buf(MediaFixtures.hvcSPS)],
                                                       pps: [buf(MediaFixtures.hvcPPS)])
        #expect(built.encoded() == buf(MediaFixtures.hvcRecord))
    }

    @Test(arguments: HEVCTests.cases)
    func buildParseRoundTrip(_ c: HEVCSPSCase) throws {
        let built = try HEVCDecoderConfigurationRecord(vps: [buf(c.vps)], sps: [buf(c.sps)], pps: [buf(MediaFixtures.hevcMain720PPS)])
        let parsed = try HEVCDecoderConfigurationRecord(parsing: built.encoded())
        #expect(parsed == built)
        let sps = try HEVC.SPS(nal: buf(c.sps))
        #expect(parsed.profileTierLevel == sps.profileTierLevel)
        #expect(Int(parsed.numTemporalLayers) == c.subLayers)
        #expect(Int(parsed.bitDepthLumaMinus8) + 8 == c.bitDepth)
    }

    @Test func otherArraysAreSkipped() throws {
        // numOfArrays 4: an SEI prefix array (type 39) between SPS and PPS.
        var bytes = hexBytes(MediaFixtures.hvcRecord)
        bytes[22] = 4
        let pps = bytes.count - 11
        bytes.insert(contentsOf: hexBytes("27 0001 0004 4e01 0580"), at: pps)
        let record = try HEVCDecoderConfigurationRecord(parsing: ByteBuffer(bytes: bytes))
        #expect(record.vps.count == 1 && record.sps.count == 1 && record.pps == [buf(MediaFixtures.hvcPPS)])
    }

    @Test func malformedRecordsThrow() throws {
        let good = hexBytes(MediaFixtures.hvcRecord)
        expectRefused(good, spoiled: [(at: 0, byte: 2)]) { _ = try HEVCDecoderConfigurationRecord(parsing: $0) }  // version 2
        #expect(throws: CodecError.self) {
            try HEVCDecoderConfigurationRecord(vps: [], sps: [buf(MediaFixtures.hvcSPS)], pps: [buf(MediaFixtures.hvcPPS)])
        }
        #expect(throws: CodecError.self) {  // VPS and SPS swapped
            try HEVCDecoderConfigurationRecord(vps: [buf(MediaFixtures.hvcSPS)], sps: [buf(MediaFixtures.hvcVPS)],
                                               pps: [buf(MediaFixtures.hvcPPS)])
        }
    }

    @Test func streamFromRecordAndFromParameterSets() throws {
        let fromRecord = try AVStream.h265(index: 0, timebase: 1000, hvcRecord: buf(MediaFixtures.hvcRecord))
        #expect(fromRecord.codec == .h265)
        #expect(fromRecord.extradata == buf(MediaFixtures.hvcRecord))
        #expect(fromRecord.video == VideoParameters(width: 1280, height: 720, profile: 1, level: 93,
                                                    vps: [buf(MediaFixtures.hvcVPS)], sps: [buf(MediaFixtures.hvcSPS)],
                                                    pps: [buf(MediaFixtures.hvcPPS)]))
        let fromSets = try AVStream.h265(index: 0, timebase: 90000, vps: [buf(CodecFixtures.hevcCrop362VPS)],
                                         sps: [buf(CodecFixtures.hevcCrop362SPS)], pps: [buf(MediaFixtures.hevcMain720PPS)])
        #expect(fromSets.video?.width == 640 && fromSets.video?.height == 362 && fromSets.video?.level == 63)
        #expect(try HEVCDecoderConfigurationRecord(parsing: fromSets.extradata).vps == [buf(CodecFixtures.hevcCrop362VPS)])
    }
}

/// Every proper prefix of a valid record `good` (cut short on the wire), and `good` with each
/// of `spoiled` (one byte changed), is refused with CodecError.
func expectRefused(_ good: [UInt8], spoiled: [(at: Int, byte: UInt8)] = [], sourceLocation: SourceLocation = #_sourceLocation,
                   _ parse: (ByteBuffer) throws -> Void) {
    for length in 0..<good.count {
        #expect(throws: CodecError.self, "\(length) of \(good.count) bytes", sourceLocation: sourceLocation) {
            try parse(ByteBuffer(bytes: good.prefix(length)))
        }
    }
    for (at, byte) in spoiled {
        var bytes = good
        bytes[at] = byte
        #expect(throws: CodecError.self, "byte \(at) = \(byte)", sourceLocation: sourceLocation) { try parse(ByteBuffer(bytes: bytes)) }
    }
}
