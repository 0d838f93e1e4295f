/// CRC-32 of IEEE 802.3 / zlib (polynomial 0xEDB88320 reflected, init and final XOR 0xFFFFFFFF), the
/// one STUN's FINGERPRINT uses (RFC 5389 15.5). Not MPEG2Systems.crc32: that is MPEG-2's
/// non-reflected variant.
enum CRC32 {
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crc >> 8 ^ table[Int((crc ^ UInt32(byte)) & 0xFF)] }
        return ~crc
    }

    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? c >> 1 ^ 0xEDB8_8320 : c >> 1 }
        return c
    }
}
