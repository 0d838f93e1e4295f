import NIOCore
import RelayCore
@testable import RelayRTP
import RelayTestSupport
import Testing

@Suite struct RTCPFeedbackTests {
    /// What Chrome sends a sender it receives from: RR (one block) + SDES CNAME + NACK + REMB.
    static let chromeCompound = hexBuffer(
        "81c90007" + "a1b2c3d4"                                   // RR, 1 block, 7 words after the first
            + "01020304" + "02000005" + "0001aab0" + "00000014" + "cafe0000" + "00010000"
            + "81ca0006" + "a1b2c3d4" + "0110" + "4a6f6b3456656e7a6c4a6b5a7a714e4d" + "0000"  // SDES CNAME, 16 chars
            + "81cd0003" + "a1b2c3d4" + "01020304" + "aaa90005"  // NACK PID 0xaaa9, BLP 0b101
            + "8fce0005" + "a1b2c3d4" + "00000000" + "52454d42" + "010bc52e" + "01020304"  // REMB 1 SSRC
    )

    @Test func chromeCompoundParses() {
        #expect(RTCP.feedback(in: Self.chromeCompound) == [
            .nack(sender: 0xA1B2_C3D4, media: 0x0102_0304, sequences: [0xAAA9, 0xAAAA, 0xAAAC]),
            .remb(sender: 0xA1B2_C3D4, bitrate: 247_086 << 2, ssrcs: [0x0102_0304]),
        ])
        let reports = RTCPReport.parse(Self.chromeCompound)
        #expect(!reports.malformed, "the feedback packets are walked over as before")
        #expect(reports.reports.map(\.ssrc) == [0xA1B2_C3D4] && reports.reports[0].blocks[0].cumulativeLost == 5)
    }

    /// RFC 4585 §6.2.1: PID is the first lost packet, bit i of BLP says PID+i+1 is lost too.
    @Test func pidAndBLPExpandAsTheRFCDefines() {
        let packet = hexBuffer("81cd0004" + "00000001" + "00000002" + "fffe8001" + "00100000")
        #expect(RTCP.feedback(in: packet) == [.nack(sender: 1, media: 2, sequences: [0xFFFE, 0xFFFF, 14, 16])],
                "bit 0 and bit 15 of the first pair, across the wrap; a lone PID")
        var written = ByteBuffer()
        RTCP.writeNACK(sender: 1, media: 2, sequences: [0xFFFE, 0xFFFF, 14, 16], into: &written)
        #expect(written == packet, "the writer packs the same pairs")
        var all = ByteBuffer()
        RTCP.writeNACK(sender: 1, media: 2, sequences: Array(100...116), into: &all)
        #expect(Array(all.readableBytesView.suffix(4)) == [0, 100, 0xFF, 0xFF], "17 in a row: one pair")
    }

    @Test func everyWriterRoundTrips() {
        let sequences: [UInt16] = [5, 6, 9, 21, 22, 40, 65535, 0, 1, 300]
        var b = ByteBuffer()
        RTCP.writeReceiverReport(ssrc: 7, blocks: [], into: &b)  // a compound packet as RFC 4585 asks
        RTCP.writeNACK(sender: 7, media: 8, sequences: sequences, into: &b)
        RTCP.writePLI(sender: 7, media: 8, into: &b)
        RTCP.writeFIR(sender: 7, media: 8, sequence: 200, into: &b)
        RTCP.writeREMB(sender: 7, bitrate: 2_500_000, ssrcs: [8, 9], into: &b)
        RTCP.writeREMB(sender: 7, bitrate: .max, ssrcs: [], into: &b)
        RTCP.writeREMB(sender: 7, bitrate: 0x3_FFFF, ssrcs: [8], into: &b)
        RTCP.writeNACK(sender: 7, media: 8, sequences: [], into: &b)  // nothing to ask: nothing written
        let parsed = RTCP.feedback(in: b)
        #expect(parsed.count == 6)
        #expect(parsed[0] == .nack(sender: 7, media: 8, sequences: sequences))
        #expect(parsed[1] == .pli(sender: 7, media: 8))
        #expect(parsed[2] == .fir(sender: 7, media: 8, sequence: 200))
        guard case .remb(7, let rate, [8, 9]) = parsed[3] else { Issue.record("\(parsed[3])"); return }
        #expect(rate <= 2_500_000 && rate > 2_500_000 - 16, "18-bit mantissa: rounded down by less than 2^exponent")
        guard case .remb(7, let top, []) = parsed[4] else { Issue.record("\(parsed[4])"); return }
        #expect(top == 0x3_FFFF << 46)
        #expect(parsed[5] == .remb(sender: 7, bitrate: 0x3_FFFF, ssrcs: [8]))
        #expect(!RTCPReport.parse(b).malformed)
        #expect(RTCP.feedback(in: hexBuffer("81ce0002" + "00000007" + "00000008")) == [.pli(sender: 7, media: 8)],
                "reduced size (RFC 5506): a lone feedback packet")
    }

    @Test func rembExponentsBeyond64BitsSaturate() {
        #expect(RTCP.rembBitrate(63 << 18 | 1) == 1 << 63)
        #expect(RTCP.rembBitrate(63 << 18 | 2) == .max)
        #expect(RTCP.rembBitrate(46 << 18 | 0x3_FFFF) == 0x3_FFFF << 46)
        #expect(RTCP.rembBitrate(47 << 18 | 0x3_FFFF) == .max)
        #expect(RTCP.rembBitrate(63 << 18) == 0)
    }

    @Test func atMost1024SequencesAnd64PacketsPerCompound() {
        var b = ByteBuffer()
        for k in 0..<70 {
            // Every second number lost: 9 numbers a pair, 89 pairs a packet.
            RTCP.writeNACK(sender: 1, media: 2, sequences: (0..<800).map { UInt16(truncatingIfNeeded: k * 1600 + 2 * $0) }, into: &b)
        }
        let parsed = RTCP.feedback(in: b)
        let total = parsed.reduce(0) { if case .nack(_, _, let s) = $1 { return $0 + s.count } else { return $0 } }
        #expect(total == 1024)
        func pli(after reports: Int) -> [RTCPFeedback] {
            var b = ByteBuffer()
            for _ in 0..<reports { RTCP.writeReceiverReport(ssrc: 1, blocks: [], into: &b) }  // RR + SDES: 2 packets
            RTCP.writePLI(sender: 1, media: 2, into: &b)
            return RTCP.feedback(in: b)
        }
        #expect(pli(after: 31) == [.pli(sender: 1, media: 2)], "the 63rd packet is read")
        #expect(pli(after: 32).isEmpty, "the 65th packet is not read")
    }

    @Test func malformedInputKeepsWhatCameBefore() {
        var pli = ByteBuffer()
        RTCP.writePLI(sender: 1, media: 2, into: &pli)
        func after(_ hex: String) -> [RTCPFeedback] {
            var b = pli, extra = hexBuffer(hex)
            b.writeBuffer(&extra)
            return RTCP.feedback(in: b)
        }
        let first: [RTCPFeedback] = [.pli(sender: 1, media: 2)]
        #expect(after("81cdffff" + "00000001" + "00000002") == first, "length beyond the bytes")
        #expect(after("81ce0000") == first, "no room for the SSRCs")
        #expect(after("41ce0002" + "00000001" + "00000002") == first, "version 1")
        #expect(after("a1cd0003" + "00000001" + "00000002" + "00010000") == first, "padding count 0")
        #expect(after("a1cd0003" + "00000001" + "00000002" + "000100ff") == first, "padding count beyond the packet")
        #expect(after("a1cd0004" + "00000001" + "00000002" + "00070000" + "00000004")
                    == first + [.nack(sender: 1, media: 2, sequences: [7])], "valid padding is left out")
        #expect(after("84ce0003" + "00000001" + "00000000" + "00000009") == first, "FIR entry cut short")
        #expect(after("8fce0004" + "00000001" + "00000000" + "52454d42" + "02000001") == first, "REMB promising 2 SSRCs, none there")
        #expect(after("8fce0004" + "00000001" + "00000000" + "41424344" + "02000001") == first, "another AFB app: skipped")
        #expect(after("81cd0002" + "00000001" + "00000002") == first, "NACK without FCI: nothing lost")

        let whole = Self.chromeCompound
        for cut in 0...whole.readableBytes {
            _ = RTCP.feedback(in: whole.getSlice(at: 0, length: cut)!)
        }
        var rng = SplitMix64(seed: 4585)
        var found = 0
        for _ in 0..<2000 {
            var bytes = Array(whole.readableBytesView)
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            bytes.removeLast(Int.random(in: 0...8, using: &rng))
            let parsed = RTCP.feedback(in: ByteBuffer(bytes: bytes))  // never traps
            #expect(parsed.count <= 64)
            found += parsed.count
        }
        #expect(found > 500, "most mutations still leave a message to read")
    }
}
