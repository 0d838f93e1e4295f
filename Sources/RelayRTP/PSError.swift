/// Why an MPEG program stream (ISO/IEC 13818-1 §2.5) could not be demuxed. Each names the
/// structure and the offending value, for the log line that closes the source.
public enum PSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// PES_packet_length cannot hold the PES header that follows it.
    case impossiblePESLength(streamID: UInt8, length: Int, headerLength: Int)
    /// PES_packet_length 0 (unbounded) is only tolerated for video.
    case unboundedPES(streamID: UInt8)
    case invalidPESHeader(streamID: UInt8, String)
    case invalidPackHeader(String)
    case invalidPSM(String)
    /// Bytes that are no program stream at all.
    case noStartCode(skipped: Int)
    case frameTooLarge(bytes: Int, limit: Int)
    case audioTooLarge(bytes: Int, limit: Int)
    case badParameterSets(String)

    public var description: String {
        switch self {
        case .impossiblePESLength(let id, let length, let header):
            return "impossible PES length \(length) on stream 0x\(hex(id)): its header alone takes \(header) bytes"
        case .unboundedPES(let id):
            return "PES of unbounded length (0) on non-video stream 0x\(hex(id))"
        case .invalidPESHeader(let id, let why):
            return "invalid PES header on stream 0x\(hex(id)): \(why)"
        case .invalidPackHeader(let why):
            return "invalid MPEG-PS pack header: \(why)"
        case .invalidPSM(let why):
            return "invalid program stream map: \(why)"
        case .noStartCode(let skipped):
            return "no MPEG-PS start code in \(skipped) bytes: not a program stream"
        case .frameTooLarge(let bytes, let limit):
            return "video access unit of \(bytes) bytes exceeds the \(limit)-byte limit (missing frame boundaries?)"
        case .audioTooLarge(let bytes, let limit):
            return "audio PES data of \(bytes) bytes exceeds the \(limit)-byte limit"
        case .badParameterSets(let why):
            return "unusable video parameter sets: \(why)"
        }
    }
}

func hex(_ b: UInt8) -> String {
    let s = String(b, radix: 16, uppercase: true)
    return s.count == 1 ? "0" + s : s
}
