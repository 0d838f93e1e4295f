import NIOCore
import RelayCore
import Testing

/// The one start-code scanner (`AnnexB.findStartCode`) against a plain reference.
@Suite struct StartCodeScannerTests {
    static func reference(_ b: [UInt8], from start: Int) -> Int? {
        var i = max(start, 0)
        while i + 2 < b.count {
            if b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 { return i }
            i += 1
        }
        return nil
    }

    @Test func findsEveryStartCodeTheReferenceFinds() {
        var rng = SplitMix64(seed: 264)
        for _ in 0..<2000 {
            // Mostly 0s and 1s, so start codes, near misses and overlaps are common.
            let bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in [0, 0, 0, 1, 2, 0xFF][Int.random(in: 0...5, using: &rng)] as UInt8 }
            for start in -1...(bytes.count + 1) {
                let got = bytes.withUnsafeBytes { AnnexB.findStartCode(in: $0, from: start) }
                #expect(got == Self.reference(bytes, from: start), "\(bytes) from \(start)")
            }
        }
        #expect(AnnexB.findStartCode(in: ByteBuffer(bytes: [9, 0, 0, 0, 1, 0x65]), from: 0) == 2)
        #expect(AnnexB.findStartCode(in: ByteBuffer(bytes: [0, 0, 1]), from: .max) == nil)
        #expect(AnnexB.findStartCode(in: ByteBuffer(bytes: [0, 0, 1]), from: .min) == 0)
    }

    @Test func leadingStartCodes() {
        #expect(AnnexB.leadingStartCodeLength(ByteBuffer(bytes: [0, 0, 1, 0x65])) == 3)
        #expect(AnnexB.leadingStartCodeLength(ByteBuffer(bytes: [0, 0, 0, 1])) == 4)
        #expect(AnnexB.leadingStartCodeLength(ByteBuffer(bytes: [0, 0, 1])) == 3)
        #expect(AnnexB.leadingStartCodeLength(ByteBuffer(bytes: [0, 0, 0])) == 0)
        #expect(AnnexB.leadingStartCodeLength(ByteBuffer(bytes: [1, 0, 0, 1])) == 0)
        #expect(AnnexB.leadingStartCodeLength(ByteBuffer()) == 0)
    }
}
