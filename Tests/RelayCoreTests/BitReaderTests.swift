import NIOCore
import Testing
@testable import RelayCore

/// Packs "0101…" strings into bytes (zero-padded), so exp-Golomb cases read like the spec tables.
private func bits(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var acc: UInt8 = 0, n = 0
    for c in s where c == "0" || c == "1" {
        acc = acc << 1 | (c == "1" ? 1 : 0)
        n += 1
        if n == 8 { out.append(acc); acc = 0; n = 0 }
    }
    if n > 0 { out.append(acc << (8 - n)) }
    return out
}

@Suite struct BitReaderTests {
    @Test func stripsEmulationPreventionBytes() {
        let nal = ByteBuffer(bytes: [0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x05, 0x03])
        #expect(BitReader.rbsp(nal) == [0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x03])
        // A 0x03 after a single zero is data.
        #expect(BitReader.rbsp(ByteBuffer(bytes: [0x00, 0x03, 0x00, 0x03])) == [0x00, 0x03, 0x00, 0x03])
    }

    @Test func readsFixedWidthFields() throws {
        var r = BitReader(rbsp: [0b1010_1100, 0xFF, 0x01])
        #expect(try r.bit() == true)
        #expect(try r.bits(3) == 0b010)
        #expect(try r.int(4) == 0b1100)
        #expect(try r.bits(16) == 0xFF01)
        #expect(r.bitsLeft == 0)
        #expect(throws: CodecError.self) { try r.bit() }
    }

    @Test func unsignedExpGolomb() throws {
        // codeNum 0…8 per H.264 Table 9-2.
        var r = BitReader(rbsp: bits("1 010 011 00100 00101 00110 00111 0001000 0001001"))
        for expected in 0...8 {
            #expect(try r.ue() == expected)
        }
        // The largest 32-bit value: 31 zeros, 1, 31 ones.
        var big = BitReader(rbsp: bits(String(repeating: "0", count: 31) + "1" + String(repeating: "1", count: 31)))
        #expect(try big.ue() == Int(UInt32.max) - 1)
    }

    @Test func signedExpGolomb() throws {
        var r = BitReader(rbsp: bits("1 010 011 00100 00101 00110"))
        for expected in [0, 1, -1, 2, -2, 3] {
            #expect(try r.se() == expected)
        }
    }

    @Test func corruptExpGolombThrows() {
        var zeros = BitReader(rbsp: [UInt8](repeating: 0, count: 8))
        #expect(throws: CodecError.self) { try zeros.ue() }
        var truncated = BitReader(rbsp: [0x00, 0x01])  // 15 zeros then 1: needs 15 more bits
        #expect(throws: CodecError.truncated("bitstream: need 15 bits at bit 16, 0 left")) { try truncated.ue() }
    }

    @Test func skipPastEndThrows() throws {
        var r = BitReader(rbsp: [0xAA])
        try r.skip(7)
        #expect(throws: CodecError.self) { try r.skip(2) }
    }
}
