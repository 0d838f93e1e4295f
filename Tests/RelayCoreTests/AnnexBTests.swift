import NIOCore
import RelayTestSupport
import Testing
@testable import RelayCore

private func nals(_ hex: String) -> [[UInt8]] {
    AnnexB.split(hexBuffer(hex)).map { Array($0.readableBytesView) }
}

@Suite struct AnnexBTests {
    @Test func splitsFourAndThreeByteStartCodes() {
        #expect(nals("00000001 67aa 00000001 68bb 000001 65ccdd") == [[0x67, 0xAA], [0x68, 0xBB], [0x65, 0xCC, 0xDD]])
    }

    @Test func dropsTrailingZerosAndLeadingBytes() {
        // trailing_zero_8bits after a NAL, zero bytes before the first start code, a start code at the very end.
        #expect(nals("0000 00000001 67aa0000 000001 6800 0000 000001") == [[0x67, 0xAA], [0x68]])
        #expect(nals("ffee 000001 09f0") == [[0x09, 0xF0]])
    }

    @Test func singleNALAndNoStartCode() {
        #expect(nals("00000001 65 8888") == [[0x65, 0x88, 0x88]])
        #expect(nals("65 8888 00") == [[0x65, 0x88, 0x88]])
        #expect(nals("") == [])
        #expect(nals("00000000") == [])
        #expect(nals("000001 000001") == [])
    }

    @Test func emulationPreventedBytesDoNotSplit() {
        #expect(nals("000001 06 000003 01 000003 00 80") == [[0x06, 0, 0, 3, 1, 0, 0, 3, 0, 0x80]])
    }

    @Test func splitReturnsSlicesOfTheInput() {
        let input = hexBuffer("00000001" + MediaFixtures.h264Main720SPS + "00000001" + MediaFixtures.h264Main720PPS)
        let units = AnnexB.split(input)
        #expect(units == [hexBuffer(MediaFixtures.h264Main720SPS), hexBuffer(MediaFixtures.h264Main720PPS)])
        #expect(H264.nalType(of: units[0]) == .sps)
        #expect(H264.nalType(of: units[1]) == .pps)
    }

    @Test func convertsToLengthPrefixed() throws {
        let out = AnnexB.toLengthPrefixed(hexBuffer("00000001 0910 000001 65aabbcc"))
        #expect(Array(out.readableBytesView) == hexBytes("00000002 0910 00000004 65aabbcc"))
        #expect(try AnnexB.nalUnits(lengthPrefixed: out) == [hexBuffer("0910"), hexBuffer("65aabbcc")])
        #expect(AnnexB.lengthPrefixed([]).readableBytes == 0)
    }

    @Test func iteratesLengthPrefixedAsSlices() throws {
        var it = LengthPrefixedNALIterator(hexBuffer("00000001 09 00000000 00000003 65aabb"))
        #expect(try it.next() == hexBuffer("09"))
        #expect(try it.next() == ByteBuffer())
        #expect(try it.next() == hexBuffer("65aabb"))
        #expect(try it.next() == nil)
    }

    @Test func overrunningLengthThrows() throws {
        var it = LengthPrefixedNALIterator(hexBuffer("00000001 09 00000005 65aabb"))
        #expect(try it.next() == hexBuffer("09"))
        #expect(throws: CodecError.self) { try it.next() }
        #expect(try it.next() == nil)  // stays finished rather than reading garbage
        #expect(throws: CodecError.self) { try AnnexB.nalUnits(lengthPrefixed: hexBuffer("000000")) }
        #expect(throws: CodecError.self) { try AnnexB.nalUnits(lengthPrefixed: hexBuffer("ffffffff 00")) }
    }

    @Test func shortLengthPrefixesAreNormalized() throws {
        let twoByte = hexBuffer("0002 0910 0003 65aabb")
        #expect(try AnnexB.nalUnits(lengthPrefixed: twoByte, lengthSize: 2).count == 2)
        let four = try AnnexB.normalizedLengthPrefix(twoByte, lengthSize: 2)
        #expect(Array(four.readableBytesView) == hexBytes("00000002 0910 00000003 65aabb"))
        let oneByte = hexBuffer("02 0910")
        #expect(try AnnexB.normalizedLengthPrefix(oneByte, lengthSize: 1) == hexBuffer("00000002 0910"))
    }

    @Test func keyFrameDetection() {
        #expect(H264.containsIDR(lengthPrefixed: hexBuffer("00000002 0910 00000002 6588")))
        #expect(!H264.containsIDR(lengthPrefixed: hexBuffer("00000002 0910 00000002 4188")))
        #expect(!H264.containsIDR(lengthPrefixed: hexBuffer("00000009 65")))
        #expect(HEVC.containsIRAP(lengthPrefixed: hexBuffer("00000003 460150 00000003 2601af")))  // AUD, IDR_W_RADL
        #expect(HEVC.containsIRAP(lengthPrefixed: hexBuffer("00000003 2a01af")))  // CRA
        #expect(!HEVC.containsIRAP(lengthPrefixed: hexBuffer("00000003 0201af")))  // TRAIL_R
    }
}
