/// Why a codec parameter set, configuration record or bitstream could not be used.
/// The message names the structure and the offending value so it reads well in a log line.
public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The data ended before the structure did.
    case truncated(String)
    /// A field holds a value the specification forbids.
    case invalid(String)
    /// Valid, but a feature this relay does not handle.
    case unsupported(String)

    public var description: String {
        switch self {
        case .truncated(let what): return "truncated \(what)"
        case .invalid(let what): return "invalid \(what)"
        case .unsupported(let what): return "unsupported \(what)"
        }
    }
}
