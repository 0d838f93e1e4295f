import NIOCore

/// What MPEG-2 program streams (GB28181's PS) and transport streams (HLS) share (ISO/IEC 13818-1).
public enum MPEG2Systems {
    /// A 33-bit PTS/DTS with its 4-bit prefix and marker bits (2.4.3.7); wraps modulo 2^33 as
    /// the field does.
    public static func writeTimestamp(_ t: Int64, prefix: UInt8, into out: inout ByteBuffer) {
        let v = UInt64(truncatingIfNeeded: t) & 0x1_FFFF_FFFF
        out.writeInteger(prefix << 4 | UInt8(truncatingIfNeeded: v >> 29) & 0x0E | 0x01)
        out.writeInteger(UInt16(truncatingIfNeeded: v >> 14) & 0xFFFE | 0x01)
        out.writeInteger(UInt16(truncatingIfNeeded: v << 1) & 0xFFFE | 0x01)
    }

    /// CRC-32/MPEG-2 (polynomial 0x04C11DB7, not reflected, initial 0xFFFFFFFF, no final xor):
    /// the CRC_32 of PSI sections and of the PS stream map; over a whole section including its
    /// CRC it gives 0.
    public static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = crc << 8 ^ crcTable[Int((crc >> 24) ^ UInt32(b))] }
        return crc
    }

    private static let crcTable: [UInt32] = (0..<256).map { i in
        var c = UInt32(i) << 24
        for _ in 0..<8 { c = c & 0x8000_0000 != 0 ? c << 1 ^ 0x04C1_1DB7 : c << 1 }
        return c
    }
}
