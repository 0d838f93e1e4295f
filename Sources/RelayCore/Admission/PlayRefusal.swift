/// Why a player was not admitted (`RelayContext.admitPlayer`). HTTP and RTSP answer
/// `httpStatus`; RTMP an error `onStatus`.
public enum PlayRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidStreamID(String)
    /// The on_play hook said no.
    case denied(HookDecision)
    /// Not published (or not playable) within `source.play_wait_ms`.
    case notFound(String)

    public var description: String {
        switch self {
        case .invalidStreamID(let id): return "invalid stream id '\(printableStreamID(id))'"
        case .denied(let decision): return "play denied: \(decision.reason)"
        case .notFound(let id): return "stream \(id) not found"
        }
    }

    /// 400, 401/403 as the hook answered (`HookDecision.deniedHTTPStatus`), 404.
    public var httpStatus: Int {
        switch self {
        case .invalidStreamID: return 400
        case .denied(let decision): return decision.deniedHTTPStatus
        case .notFound: return 404
        }
    }
}
