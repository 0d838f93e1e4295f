import NIOCore
import RelayTestSupport
import Testing
@testable import RelayCore

struct HEVCSPSCase: Sendable, CustomTestStringConvertible {
    var name: String
    var vps: String
    var sps: String
    var ffprobe: FFprobeSays
    var codedHeight: Int
    var bitDepth: Int = 8
    var subLayers: Int = 1
    var testDescription: String { name }
}

@Suite struct HEVCTests {
    static let cases: [HEVCSPSCase] = [
        .init(name: "Main 720p", vps: MediaFixtures.hevcMain720VPS, sps: MediaFixtures.hevcMain720SPS,
              ffprobe: .init(width: 1280, height: 720, profile: 1, level: 93), codedHeight: 720),
        .init(name: "Main 10 1080p", vps: CodecFixtures.hevcMain10VPS, sps: CodecFixtures.hevcMain10SPS,
              ffprobe: .init(width: 1920, height: 1080, profile: 2, level: 120), codedHeight: 1080, bitDepth: 10),
        .init(name: "conformance window 640x362", vps: CodecFixtures.hevcCrop362VPS, sps: CodecFixtures.hevcCrop362SPS,
              ffprobe: .init(width: 640, height: 362, profile: 1, level: 63), codedHeight: 368),
        .init(name: "two temporal sub-layers", vps: CodecFixtures.hevcSubLayersVPS, sps: CodecFixtures.hevcSubLayersSPS,
              ffprobe: .init(width: 352, height: 288, profile: 1, level: 60), codedHeight: 288, subLayers: 2),
        .init(name: "ffmpeg MP4 hvcC 720p", vps: MediaFixtures.hvcVPS, sps: MediaFixtures.hvcSPS,
              ffprobe: .init(width: 1280, height: 720, profile: 1, level: 93), codedHeight: 720),
    ]

    @Test(arguments: cases)
    func parsesRealSPS(_ c: HEVCSPSCase) throws {
        let sps = try HEVC.SPS(nal: hexBuffer(c.sps))
        let ptl = sps.profileTierLevel
        #expect(FFprobeSays(width: sps.width, height: sps.height, profile: ptl.profileIdc, level: ptl.levelIdc) == c.ffprobe)
        #expect(sps.codedHeight == c.codedHeight)
        #expect(ptl.tierFlag == false)
        #expect(ptl.profileSpace == 0)
        #expect(sps.chromaFormatIdc == 1)
        #expect(sps.bitDepthLuma == c.bitDepth && sps.bitDepthChroma == c.bitDepth)
        #expect(sps.maxSubLayers == c.subLayers)
        #expect(sps.temporalIdNesting == (c.subLayers == 1))  // x265 with B-frame layers clears it
    }

    @Test(arguments: cases)
    func parsesRealVPS(_ c: HEVCSPSCase) throws {
        let vps = try HEVC.VPS(nal: hexBuffer(c.vps))
        let sps = try HEVC.SPS(nal: hexBuffer(c.sps))
        #expect(vps.id == sps.vpsId)
        #expect(vps.maxSubLayers == c.subLayers)
        #expect(vps.profileTierLevel == sps.profileTierLevel)
    }

    @Test func profileCompatibilityAndConstraintFlags() throws {
        let ptl = try HEVC.SPS(nal: hexBuffer(MediaFixtures.hevcMain720SPS)).profileTierLevel
        #expect(ptl.compatibilityFlags == 0x6000_0000)  // Main and Main 10 compatible
        #expect(ptl.constraintIndicatorFlags == 0x9000_0000_0000)  // progressive, frame-only
    }

    @Test func nalTypes() {
        #expect(HEVC.NALType(header: 0x40) == .vps)
        #expect(HEVC.NALType(header: 0x42) == .sps)
        #expect(HEVC.NALType(header: 0x44) == .pps)
        #expect(HEVC.NALType(header: 0x26) == .idrWRADL)
        #expect(HEVC.NALType(header: 0x28) == .idrNLP)
        #expect(HEVC.NALType(header: 0x2A) == .cra)
        #expect(HEVC.NALType(header: 0x4E) == .seiPrefix)
        #expect(HEVC.NALType(header: 0x46) == .accessUnitDelimiter)
        #expect(HEVC.NALType.cra.isIRAP && HEVC.NALType.blaWLP.isIRAP && !HEVC.NALType.trailR.isIRAP)
    }

    @Test func rejectsWrongTypeTruncatedAndCorrupt() {
        #expect(throws: CodecError.self) { try HEVC.SPS(nal: hexBuffer(MediaFixtures.hevcMain720VPS)) }
        #expect(throws: CodecError.self) { try HEVC.VPS(nal: hexBuffer(MediaFixtures.hevcMain720SPS)) }
        #expect(throws: CodecError.self) { try HEVC.SPS(nal: hexBuffer("42")) }
        for c in Self.cases {
            let sps = hexBytes(c.sps), vps = hexBytes(c.vps)
            for length in 0..<16 {  // everything up to the picture size is required
                #expect(throws: CodecError.self) { try HEVC.SPS(nal: ByteBuffer(bytes: sps.prefix(length))) }
                #expect(throws: CodecError.self) { try HEVC.VPS(nal: ByteBuffer(bytes: vps.prefix(length))) }
            }
            for length in 0...sps.count { _ = try? HEVC.SPS(nal: ByteBuffer(bytes: sps.prefix(length))) }
        }
        var seed: UInt64 = 42
        for _ in 0..<500 {
            var bytes: [UInt8] = [0x42, 0x01]
            for _ in 0..<40 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            _ = try? HEVC.SPS(nal: ByteBuffer(bytes: bytes))
            bytes[0] = 0x40
            _ = try? HEVC.VPS(nal: ByteBuffer(bytes: bytes))
        }
    }
}
