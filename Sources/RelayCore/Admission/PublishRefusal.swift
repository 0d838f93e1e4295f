/// Why a publisher was not admitted (`RelayContext.admitPublisher`). Each protocol maps it to its
/// wire answer: RTMP an error `onStatus`, GB28181 / JT/T 1078 a log line and a closed stream.
public enum PublishRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a valid stream id (`isValidStreamID`): no source, file, log line or hook is made of it.
    case invalidStreamID(String)
    /// The on_publish hook said no.
    case denied(reason: String)
    /// The id is live and the policy keeps its publisher; `holder` names it ("rtmp 10.0.0.9:5000").
    case busy(String, holder: String)
    /// `limits.max_streams` streams are live.
    case tooManyStreams(Int)
    /// Sources hold more than `limits.max_memory_bytes`.
    case memoryExhausted(used: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalidStreamID(let id): return "invalid stream id '\(printableStreamID(id))'"
        case .denied(let reason): return "publish denied: \(reason)"
        case .busy(let id, let holder): return "stream \(id) is already being published (by \(holder))"
        case .tooManyStreams(let limit): return "\(limit) streams are live (limits.max_streams)"
        case .memoryExhausted(let used, let limit):
            return "sources hold \(used) bytes, over limits.max_memory_bytes \(limit)"
        }
    }
}
