import NIOCore
import RelayCore
import Testing
@testable import RelayFLV
import RelayTestSupport

private let buf = hexBuffer

@Suite struct FLVVideoTests {
    /// One video tag body and the packet it parses to.
    struct Parse: Sendable, CustomTestStringConvertible {
        let name: String
        let body: String
        let packet: FLVVideoPacket
        var testDescription: String { name }
    }

    static let parses: [Parse] = [
        .init(name: "legacy AVC sequence header", body: "1700000000" + MediaFixtures.avcRecord,
              packet: .sequenceHeader(.h264, record: FLVFixtures.avcRecordBuffer())),
        .init(name: "legacy AVC key frame", body: "1701000028 0000000265aa",
              packet: .frame(.h264, isKeyFrame: true, compositionTime: 40, data: buf("0000000265aa"))),
        .init(name: "legacy AVC inter frame", body: "2701000000 0000000141",
              packet: .frame(.h264, isKeyFrame: false, compositionTime: 0, data: buf("0000000141"))),
        .init(name: "legacy AVC end of sequence", body: "1702000000", packet: .endOfSequence(.h264)),
        // The composition time is a signed 24-bit number.
        .init(name: "CTS -1", body: "2701ffffff 00", packet: .frame(.h264, isKeyFrame: false, compositionTime: -1, data: buf("00"))),
        .init(name: "CTS -40", body: "2701ffffd8 00", packet: .frame(.h264, isKeyFrame: false, compositionTime: -40, data: buf("00"))),
        .init(name: "CTS max", body: "27017fffff 00",
              packet: .frame(.h264, isKeyFrame: false, compositionTime: 0x7F_FFFF, data: buf("00"))),
        .init(name: "CTS min", body: "2701800000 00",
              packet: .frame(.h264, isKeyFrame: false, compositionTime: -0x80_0000, data: buf("00"))),
        // Legacy HEVC: codec id 12.
        .init(name: "legacy HEVC sequence header", body: "1c00000000" + MediaFixtures.hvcRecord,
              packet: .sequenceHeader(.h265, record: FLVFixtures.hvcRecordBuffer())),
        .init(name: "legacy HEVC key frame", body: "1c01fffff0 000000032601af",
              packet: .frame(.h265, isKeyFrame: true, compositionTime: -16, data: buf("000000032601af"))),
        .init(name: "legacy HEVC inter frame", body: "2c01000000 00000003020100",
              packet: .frame(.h265, isKeyFrame: false, compositionTime: 0, data: buf("00000003020100"))),
        .init(name: "legacy HEVC end of sequence", body: "1c02000000", packet: .endOfSequence(.h265)),
        // Enhanced RTMP: 0x90 = ExHeader | key frame | SequenceStart; 'hvc1' = 68766331.
        .init(name: "enhanced hvc1 sequence start", body: "90 68766331" + MediaFixtures.hvcRecord,
              packet: .sequenceHeader(.h265, record: FLVFixtures.hvcRecordBuffer())),
        // CodedFrames (1): SI24 CTS after the FourCC.
        .init(name: "enhanced hvc1 coded key frame", body: "91 68766331 000050 000000032601af",
              packet: .frame(.h265, isKeyFrame: true, compositionTime: 80, data: buf("000000032601af"))),
        .init(name: "enhanced hvc1 coded inter frame", body: "a1 68766331 ffffd8 00000003020100",
              packet: .frame(.h265, isKeyFrame: false, compositionTime: -40, data: buf("00000003020100"))),
        // CodedFramesX (3): no CTS.
        .init(name: "enhanced hvc1 CodedFramesX", body: "a3 68766331 00000003020100",
              packet: .frame(.h265, isKeyFrame: false, compositionTime: 0, data: buf("00000003020100"))),
        .init(name: "enhanced hvc1 sequence end", body: "92 68766331", packet: .endOfSequence(.h265)),
        .init(name: "enhanced avc1 sequence start", body: "90 61766331" + MediaFixtures.avcRecord,
              packet: .sequenceHeader(.h264, record: FLVFixtures.avcRecordBuffer())),
        .init(name: "enhanced avc1 CodedFramesX", body: "93 61766331 0000000265aa",
              packet: .frame(.h264, isKeyFrame: true, compositionTime: 0, data: buf("0000000265aa"))),
    ]

    @Test(arguments: parses)
    func bodyParses(_ c: Parse) throws {
        #expect(try FLVVideo.parse(buf(c.body)) == c.packet)
    }

    @Test func ignoredPackets() throws {
        let ignored: [String] = [
            "94 68766331 0200",  // Metadata
            "95 68766331 00",  // MPEG2TSSequenceStart
            "d1 68766331 000000 00",  // frame type 5: command frame
            "91 61763031 000000 00",  // 'av01'
            "90 76703039 00",  // 'vp09'
            "96 00",  // Multitrack
            "57 00",  // legacy command frame
            "12 0000",  // Sorenson H.263
            "1d 00000000",  // codec id 13
        ]
        for hex in ignored {
            guard case .ignored = try FLVVideo.parse(buf(hex)) else {
                Issue.record("\(hex) should be ignored")
                continue
            }
        }
    }

    @Test func malformedBodiesThrow() {
        let bad: [String] = [
            "",  // empty
            "17",  // no packet type
            "1701",  // no CTS
            "170100",  // CTS cut
            "1700000000",  // sequence header without record
            "1703000000",  // AVC packet type 3
            "07010000",  // frame type 0
            "9068",  // FourCC cut
            "91 68766331 0000",  // CodedFrames CTS cut
            "91 78787878 000000",  // unknown FourCC 'xxxx'
            "90 00000000",  // FourCC zero
            "90 68766331",  // enhanced sequence start without record
            "f1 68766331 000000",  // enhanced frame type 7
        ]
        for hex in bad {
            #expect(throws: FLVError.self, "\(hex)") { try FLVVideo.parse(buf(hex)) }
        }
    }

    @Test(arguments: [
        (CodecID.h264, HEVCFLVMode.enhanced), (.h264, .legacy), (.h265, .enhanced), (.h265, .legacy),
    ])
    func writeHeaderParsesBack(codec: CodecID, mode: HEVCFLVMode) throws {
        let payload = buf("0000000365aabb")
        for (key, cts) in [(true, Int32(0)), (false, 40), (false, -33), (true, 0x7F_FFFF), (false, -0x80_0000)] {
            var body = ByteBuffer()
            FLVVideo.writeHeader(codec: codec, isKeyFrame: key, compositionTime: cts, hevcMode: mode, into: &body)
            #expect(body.readableBytes == FLVVideo.headerSize(codec: codec, hevcMode: mode))
            body.writeImmutableBuffer(payload)
            #expect(try FLVVideo.parse(body) == .frame(codec, isKeyFrame: key, compositionTime: cts, data: payload))
        }
        var seq = ByteBuffer()
        let record = codec == .h264 ? FLVFixtures.avcRecordBuffer() : FLVFixtures.hvcRecordBuffer()
        FLVVideo.writeSequenceHeader(codec: codec, record: record, hevcMode: mode, into: &seq)
        #expect(try FLVVideo.parse(seq) == .sequenceHeader(codec, record: record))
        var eos = ByteBuffer()
        FLVVideo.writeEndOfSequence(codec: codec, hevcMode: mode, into: &eos)
        #expect(try FLVVideo.parse(eos) == .endOfSequence(codec))
    }

    @Test func headerBytesOnTheWire() {
        var out = ByteBuffer()
        FLVVideo.writeHeader(codec: .h264, isKeyFrame: true, compositionTime: 40, hevcMode: .enhanced, into: &out)
        #expect(out == buf("1701000028"))  // H.264 is always legacy
        out.clear()
        FLVVideo.writeHeader(codec: .h265, isKeyFrame: false, compositionTime: -1, hevcMode: .enhanced, into: &out)
        #expect(out == buf("a1 68766331 ffffff"))
        out.clear()
        FLVVideo.writeHeader(codec: .h265, isKeyFrame: true, compositionTime: 0, hevcMode: .legacy, into: &out)
        #expect(out == buf("1c01000000"))
        out.clear()
        FLVVideo.writeSequenceHeader(codec: .h265, record: buf("01"), hevcMode: .enhanced, into: &out)
        #expect(out == buf("90 68766331 01"))
        out.clear()
        FLVVideo.writeHeader(codec: .h264, isKeyFrame: false, compositionTime: .max, hevcMode: .legacy, into: &out)
        #expect(out == buf("27017fffff"))  // clamped to 24 bits
        #expect(HEVCFLVMode(rawValue: "legacy") == .legacy && HEVCFLVMode(rawValue: "enhanced") == .enhanced)
    }

    @Test func truncationsOfValidBodiesNeverCrash() {
        let bodies = ["1701000028 0000000265aa", "91 68766331 000050 000000032601af", "1c00000000" + MediaFixtures.hvcRecord]
        for hex in bodies {
            let bytes = hexBytes(hex)
            for length in 0...bytes.count { _ = try? FLVVideo.parse(ByteBuffer(bytes: bytes.prefix(length))) }
        }
    }
}
