import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayMP4

@Suite struct MP4CodecStringTests {
    @Test func h264IsProfileCompatibilityAndLevelInHex() throws {
        #expect(MP4CodecString.rfc6381(try FMP4Fixtures.h264()) == "avc1.4D401F", "Main, level 3.1")
        let high = try AVStream.h264(index: 0, timebase: 1000, sps: [hexBuffer(MediaFixtures.h264High1080SPS)],
                                     pps: [hexBuffer(MediaFixtures.h264High1080PPS)])
        #expect(MP4CodecString.rfc6381(high) == "avc1.640028", "High, level 4.0")
    }

    @Test func h265FollowsAnnexE() throws {
        // libx265 Main, level 3.1: compatibility flags 0x60000000 reversed = 6; constraint byte 0x90.
        #expect(MP4CodecString.rfc6381(try FMP4Fixtures.h265()) == "hvc1.1.6.L93.90")
        let ptl = HEVC.ProfileTierLevel(profileSpace: 1, tierFlag: true, profileIdc: 4, compatibilityFlags: 0x0800_0000,
                                        constraintIndicatorFlags: 0xB023_0000_0000, levelIdc: 120)
        // Profile space 1 is "A", flag 4 set reverses to 0x10, high tier, two constraint bytes.
        #expect(MP4CodecString.hevc(ptl) == "hvc1.A4.10.H120.B0.23")
        let plain = HEVC.ProfileTierLevel(profileSpace: 0, tierFlag: false, profileIdc: 2, compatibilityFlags: 0x2000_0000,
                                          constraintIndicatorFlags: 0, levelIdc: 90)
        #expect(MP4CodecString.hevc(plain) == "hvc1.2.4.L90", "Main 10; no constraint bytes")
    }

    @Test func aacIsItsObjectTypeAndOthersHaveNone() throws {
        #expect(MP4CodecString.rfc6381(try FMP4Fixtures.aac()) == "mp4a.40.2")
        // HE-AAC signalled explicitly (AOT 5, 24 kHz core, SBR to 48 kHz, then AOT 2).
        let heAAC = try AVStream.aac(index: 1, timebase: 1000, asc: hexBuffer("2B1188"))
        #expect(MP4CodecString.rfc6381(heAAC) == "mp4a.40.5")
        #expect(MP4CodecString.rfc6381(.g711(.g711a, index: 1, timebase: 8000)) == nil)
        #expect(MP4CodecString.rfc6381(AVStream(index: 0, codec: .h264, timebase: 1000)) == nil, "no configuration")
    }
}
