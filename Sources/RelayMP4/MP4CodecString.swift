import NIOCore
import RelayCore

/// RFC 6381 `codecs` values of the tracks the fMP4 muxer carries (HLS CODECS, MSE
/// `addSourceBuffer` types), from the same configuration records the sample entries hold.
public enum MP4CodecString {
    /// "avc1.PPCCLL", "hvc1.…" (ISO/IEC 14496-15 Annex E), "mp4a.40.N"; nil for tracks not carried.
    public static func rfc6381(_ stream: AVStream) -> String? {
        guard case .success(let track) = MP4Track.make(stream) else { return nil }
        switch track.entry {
        case .avc(let record, _, _):
            guard let parsed = try? AVCDecoderConfigurationRecord(parsing: record) else { return nil }
            return "avc1." + [parsed.profileIndication, parsed.profileCompatibility, parsed.levelIndication]
                .map { hex($0, width: 2) }.joined()
        case .hevc(let record, _, _):
            guard let parsed = try? HEVCDecoderConfigurationRecord(parsing: record) else { return nil }
            return hevc(parsed.profileTierLevel)
        case .aac(let config, _, _):
            guard let parsed = try? AAC.AudioSpecificConfig(parsing: config) else { return nil }
            // Explicitly signalled SBR is HE-AAC (5); the parsed type is then the core's.
            return "mp4a.40.\(parsed.extensionSampleRate == nil ? parsed.objectType : 5)"
        }
    }

    /// hvc1.[A-C]<profile_idc>.<compatibility flags, bit-reversed, hex>.<L|H><level_idc>
    /// then the six constraint bytes in hex, trailing zero bytes left out.
    static func hevc(_ ptl: HEVC.ProfileTierLevel) -> String {
        let space = ["", "A", "B", "C"][ptl.profileSpace & 0x03]
        var parts = ["hvc1", space + String(ptl.profileIdc),
                     String(reversedBits(ptl.compatibilityFlags), radix: 16, uppercase: true),
                     (ptl.tierFlag ? "H" : "L") + String(ptl.levelIdc)]
        var constraints = (0..<6).map { UInt8(truncatingIfNeeded: ptl.constraintIndicatorFlags >> (40 - 8 * $0)) }
        while constraints.last == 0 { constraints.removeLast() }
        parts += constraints.map { String($0, radix: 16, uppercase: true) }
        return parts.joined(separator: ".")
    }

    private static func reversedBits(_ value: UInt32) -> UInt32 {
        var out: UInt32 = 0
        for bit in 0..<32 where value & (1 << bit) != 0 { out |= 1 << (31 - bit) }
        return out
    }

    private static func hex(_ byte: UInt8, width: Int) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
