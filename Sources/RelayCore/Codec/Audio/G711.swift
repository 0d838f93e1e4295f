/// ITU-T G.711 A-law: what the relay turns terminal ADPCM into, because FLV (sound format 7) and
/// RTSP (PCMA) carry it and every player decodes it. The segment arithmetic of G.711 itself (no
/// tables to get wrong); µ-law is passed through untouched, so only A-law is here.
public enum G711 {
    /// The A-law code of a 16-bit linear sample (its top 13 bits, as G.711 quantizes them).
    @inlinable
    public static func alaw(_ sample: Int16) -> UInt8 {
        var magnitude = Int(sample) >> 3
        let sign: UInt8
        if magnitude >= 0 {
            sign = 0xD5  // sign bit set for positive, even bits inverted
        } else {
            sign = 0x55
            magnitude = -magnitude - 1  // one's complement: -1 … -4096 map to 0 … 4095
        }
        // Segment = position of the highest bit above the 5 kept ones (0 for magnitudes < 32).
        let segment = max(0, (Int.bitWidth - magnitude.leadingZeroBitCount) - 5)
        if segment > 7 { return 0x7F ^ sign }
        let mantissa = segment == 0 ? (magnitude >> 1) & 0x0F : (magnitude >> segment) & 0x0F
        return UInt8(truncatingIfNeeded: segment << 4 | mantissa) ^ sign
    }

    /// The linear value (16-bit scale) an A-law code stands for: the middle of its interval.
    @inlinable
    public static func linear(alaw code: UInt8) -> Int16 {
        let v = code ^ 0x55
        let segment = Int(v & 0x70) >> 4
        var t = Int(v & 0x0F) << 4 + 8
        if segment > 0 { t = (t + 0x100) << (segment - 1) }
        return Int16(truncatingIfNeeded: v & 0x80 != 0 ? t : -t)
    }
}
