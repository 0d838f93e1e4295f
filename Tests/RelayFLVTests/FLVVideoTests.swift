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

        /// A frame: `header` (tag header, ExHeader, CTS) then `data`, which the packet carries.
        static func frame(_ name: String, _ header: String, _ codec: CodecID, key: Bool, cts: Int32 = 0, data: String) -> Parse {
            Parse(name: name, body: header + " " + data,
                  packet: .frame(codec, isKeyFrame: key, compositionTime: cts, data: buf(data)))
        }

        /// A sequence header: `header` then the decoder configuration `record`.
        static func sequenceHeader(_ name: String, _ header: String, _ codec: CodecID, record: String) -> Parse {
            Parse(name: name, body: header + record, packet: .sequenceHeader(codec, record: buf(record)))
        }
    }

    static let parses: [Parse] = [
        .sequenceHeader("legacy AVC sequence header", "1700000000", .h264, record: MediaFixtures.avcRecord),
        .frame("legacy AVC key frame", "1701000028", .h264, key: true, cts: 40, data: "0000000265aa"),
        .frame("legacy AVC inter frame", "2701000000", .h264, key: false, data: "0000000141"),
        .init(name: "legacy AVC end of sequence", body: "1702000000", packet: .endOfSequence(.h264)),
        // The composition time is a signed 24-bit number.
        .frame("CTS -1", "2701ffffff", .h264, key: false, cts: -1, data: "00"),
        .frame("CTS -40", "2701ffffd8", .h264, key: false, cts: -40, data: "00"),
        .frame("CTS max", "27017fffff", .h264, key: false, cts: 0x7F_FFFF, data: "00"),
        .frame("CTS min", "2701800000", .h264, key: false, cts: -0x80_0000, data: "00"),
        // Legacy HEVC: codec id 12.
        .sequenceHeader("legacy HEVC sequence header", "1c00000000", .h265, record: MediaFixtures.hvcRecord),
        .frame("legacy HEVC key frame", "1c01fffff0", .h265, key: true, cts: -16, data: "000000032601af"),
        .frame("legacy HEVC inter frame", "2c01000000", .h265, key: false, data: "00000003020100"),
        .init(name: "legacy HEVC end of sequence", body: "1c02000000", packet: .endOfSequence(.h265)),
        // Enhanced RTMP: 0x90 = ExHeader | key frame | SequenceStart; 'hvc1' = 68766331.
        .sequenceHeader("enhanced hvc1 sequence start", "90 68766331", .h265, record: MediaFixtures.hvcRecord),
        // CodedFrames (1): SI24 CTS after the FourCC.
        .frame("enhanced hvc1 coded key frame", "91 68766331 000050", .h265, key: true, cts: 80, data: "000000032601af"),
        .frame("enhanced hvc1 coded inter frame", "a1 68766331 ffffd8", .h265, key: false, cts: -40, data: "00000003020100"),
        // CodedFramesX (3): no CTS.
        .frame("enhanced hvc1 CodedFramesX", "a3 68766331", .h265, key: false, data: "00000003020100"),
        .init(name: "enhanced hvc1 sequence end", body: "92 68766331", packet: .endOfSequence(.h265)),
        .sequenceHeader("enhanced avc1 sequence start", "90 61766331", .h264, record: MediaFixtures.avcRecord),
        .frame("enhanced avc1 CodedFramesX", "93 61766331", .h264, key: true, data: "0000000265aa"),
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
