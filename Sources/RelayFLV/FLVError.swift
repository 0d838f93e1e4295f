/// Why an FLV byte stream or tag body could not be read. Messages are fit for a log line.
public enum FLVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The FLV file header is not "FLV" + a sane data offset.
    case badHeader(String)
    /// A tag's DataSize exceeds the reader's limit: most likely a corrupt or hostile stream.
    case tagTooLarge(size: Int, max: Int)
    /// A tag body ended before its own header did.
    case truncated(String)
    /// A field holds a value the FLV / Enhanced RTMP specifications do not allow.
    case invalid(String)

    public var description: String {
        switch self {
        case .badHeader(let what): return "bad FLV header: \(what)"
        case .tagTooLarge(let size, let max): return "FLV tag of \(size) bytes exceeds the \(max)-byte limit"
        case .truncated(let what): return "truncated FLV \(what)"
        case .invalid(let what): return "invalid FLV \(what)"
        }
    }
}
