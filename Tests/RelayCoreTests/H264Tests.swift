import NIOCore
import RelayTestSupport
import Testing
@testable import RelayCore

struct H264SPSCase: Sendable, CustomTestStringConvertible {
    var name: String
    var hex: String
    var ffprobe: FFprobeSays
    var chromaFormat: Int = 1
    var frameMbsOnly: Bool = true
    var scalingMatrix: Bool = false
    var testDescription: String { name }
}

@Suite struct H264Tests {
    static let cases: [H264SPSCase] = [
        .init(name: "Main 720p", hex: MediaFixtures.h264Main720SPS,
              ffprobe: .init(width: 1280, height: 720, profile: 77, level: 31)),
        .init(name: "ffmpeg FLV Main 720p", hex: MediaFixtures.avcSPS,
              ffprobe: .init(width: 1280, height: 720, profile: 77, level: 31)),
        .init(name: "High 1080p cropped from 1088", hex: MediaFixtures.h264High1080SPS,
              ffprobe: .init(width: 1920, height: 1080, profile: 100, level: 40)),
        .init(name: "High 1080i (frame_mbs_only 0)", hex: CodecFixtures.h264Interlaced1080SPS,
              ffprobe: .init(width: 1920, height: 1080, profile: 100, level: 40), frameMbsOnly: false),
        .init(name: "High 4:4:4 360p", hex: CodecFixtures.h264High444SPS,
              ffprobe: .init(width: 640, height: 360, profile: 244, level: 30), chromaFormat: 3),
        .init(name: "High 1080p with scaling lists", hex: CodecFixtures.h264ScalingList1080SPS,
              ffprobe: .init(width: 1920, height: 1080, profile: 100, level: 40), scalingMatrix: true),
        .init(name: "High 4:4:4 with 12 scaling lists", hex: CodecFixtures.h264ScalingList444SPS,
              ffprobe: .init(width: 640, height: 360, profile: 244, level: 30), chromaFormat: 3, scalingMatrix: true),
    ]

    @Test(arguments: cases)
    func parsesRealSPS(_ c: H264SPSCase) throws {
        let sps = try H264.SPS(nal: hexBuffer(c.hex))
        #expect(FFprobeSays(width: sps.width, height: sps.height, profile: sps.profileIdc, level: sps.levelIdc) == c.ffprobe)
        #expect(sps.chromaFormatIdc == c.chromaFormat)
        #expect(sps.frameMbsOnly == c.frameMbsOnly)
        #expect(sps.hasScalingMatrix == c.scalingMatrix)
        #expect(sps.bitDepthLuma == 8 && sps.bitDepthChroma == 8)
    }

    @Test func nalTypes() {
        #expect(H264.NALType(header: 0x67) == .sps)
        #expect(H264.NALType(header: 0x68) == .pps)
        #expect(H264.NALType(header: 0x65) == .idr)
        #expect(H264.NALType(header: 0x41) == .slice)
        #expect(H264.NALType(header: 0x09) == .accessUnitDelimiter)
        #expect(H264.NALType(header: 0x06) == .sei)
        #expect(H264.NALType(header: 0x7F).rawValue == 31)
        #expect(H264.nalType(of: ByteBuffer()) == nil)
    }

    @Test func rejectsWrongNALTypeAndEmpty() {
        #expect(throws: CodecError.self) { try H264.SPS(nal: hexBuffer(MediaFixtures.h264Main720PPS)) }
        #expect(throws: CodecError.self) { try H264.SPS(nal: ByteBuffer()) }
    }

    @Test func truncatedSPSThrowsAndNeverCrashes() throws {
        for c in Self.cases {
            let full = hexBytes(c.hex)
            // Up to pic size + cropping everything is needed; shorter prefixes must throw.
            for length in 0..<8 {
                #expect(throws: CodecError.self) { try H264.SPS(nal: ByteBuffer(bytes: full.prefix(length))) }
            }
            for length in 0...full.count {
                _ = try? H264.SPS(nal: ByteBuffer(bytes: full.prefix(length)))
            }
        }
    }

    @Test func corruptFieldsThrow() {
        // profile 66, level 30, then ue values: sps_id 0, log2_max_frame_num_minus4 = 13 (out of range).
        // bits: 1 | 0001110 → 0x8E
        #expect(throws: CodecError.invalid("H.264 SPS: log2_max_frame_num_minus4 13")) {
            try H264.SPS(nal: ByteBuffer(bytes: [0x67, 66, 0, 30, 0x8E, 0x00]))
        }
        // High profile with chroma_format_idc 4: bits 1 | 00101 → 0x94.
        #expect(throws: CodecError.invalid("H.264 SPS: chroma_format_idc 4")) {
            try H264.SPS(nal: ByteBuffer(bytes: [0x67, 100, 0, 30, 0x94, 0x00]))
        }
        // Random garbage after a valid header must throw or parse, never trap.
        var seed: UInt64 = 0x1234_5678
        for _ in 0..<500 {
            var bytes: [UInt8] = [0x67, 100, 0, 40]
            for _ in 0..<24 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            _ = try? H264.SPS(nal: ByteBuffer(bytes: bytes))
        }
    }
}
