import NIOConcurrencyHelpers
import NIOCore

/// An HTTP endpoint outside the admin API's JSON conventions, served on the players' HTTP port
/// (HTTP-FLV): a control dialect other software speaks (ZLMediaKit's `/index/api/*`, also on
/// the admin port), or an output whose players make requests rather than hold a stream (HLS
/// playlists and segments). The route checks its own credentials; the admin token does not apply.
public struct HTTPRoute: Sendable {
    /// Whether a path (percent-encoded, without the query) is this route's.
    public var matches: @Sendable (Substring) -> Bool
    /// Also served on the admin port (a control dialect); player routes are not.
    public var onAdminPort: Bool
    public var handle: @Sendable (HTTPCall) async -> HTTPAnswer
    /// An answer without waiting, tried first on the listener's event loop (nil: ask `handle`).
    /// HLS serves its playlists and segments from memory this way: a request that hops to a Task
    /// and back costs more than the answer (two thread switches per request, ~800 a second for
    /// 500 players).
    public var answerNow: (@Sendable (HTTPCall) -> HTTPAnswer?)?

    /// Paths starting with `prefix` ("/index/api/"), on both ports.
    public init(prefix: String, handle: @escaping @Sendable (HTTPCall) async -> HTTPAnswer) {
        self.init(onAdminPort: true, matching: { $0.hasPrefix(prefix) }, handle: handle)
    }

    public init(onAdminPort: Bool, matching: @escaping @Sendable (Substring) -> Bool,
                answerNow: (@Sendable (HTTPCall) -> HTTPAnswer?)? = nil,
                handle: @escaping @Sendable (HTTPCall) async -> HTTPAnswer) {
        self.matches = matching
        self.onAdminPort = onAdminPort
        self.answerNow = answerNow
        self.handle = handle
    }

    /// Largest request body a listener reads for a route (a larger one is answered 413).
    public static let maxBodyBytes = 64 << 10
}

/// A request as a route sees it, whichever listener received it.
public struct HTTPCall: Sendable {
    /// "GET", "POST" …
    public var method: String
    /// Percent-encoded as received, without the query.
    public var path: String
    /// The raw query string (after `?`, without it; empty when none).
    public var query: String
    public var contentType: String?
    /// At most `HTTPRoute.maxBodyBytes`.
    public var body: [UInt8]
    /// The peer's IP address ("127.0.0.1"); empty when unknown.
    public var remoteIP: String

    public init(method: String, path: String, query: String, contentType: String?, body: [UInt8], remoteIP: String) {
        self.method = method
        self.path = path
        self.query = query
        self.contentType = contentType
        self.body = body
        self.remoteIP = remoteIP
    }

    /// Whether the peer is this machine (127.0.0.0/8 or ::1, also IPv4-mapped).
    public var isLoopback: Bool {
        remoteIP.hasPrefix("127.") || remoteIP == "::1" || remoteIP.hasPrefix("::ffff:127.")
    }
}

/// A route's answer; listeners add `Content-Length` and `Connection` themselves.
public struct HTTPAnswer: Sendable {
    public var status: Int
    public var contentType: String
    /// The body as buffers written one after the other: a segment served from memory is shared
    /// storage, never copied per request.
    public var buffers: [ByteBuffer]
    /// More response headers ("Cache-Control" …).
    public var headers: [(String, String)]

    public init(status: Int = 200, contentType: String, body: [UInt8]) {
        self.init(status: status, contentType: contentType, buffers: [ByteBuffer(bytes: body)])
    }

    public init(status: Int = 200, contentType: String, buffers: [ByteBuffer], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.buffers = buffers
        self.headers = headers
    }

    /// The body's length.
    public var contentLength: Int { buffers.reduce(0) { $0 + $1.readableBytes } }

    /// The body in one array (tests, small answers).
    public var body: [UInt8] { buffers.flatMap { Array($0.readableBytesView) } }
}

/// The routes of every module, looked up by the listeners that serve them. Filled once by the
/// server after its modules are made (before any listener starts); read per request.
public final class HTTPRouteTable: Sendable {
    private let routes: NIOLockedValueBox<[HTTPRoute]> = NIOLockedValueBox([])

    public init() {}

    public func install(_ new: [HTTPRoute]) {
        routes.withLockedValue { $0 = new }
    }

    /// The route serving `path` (without its query), if any; on the admin port only the routes
    /// that are served there.
    public func route(for path: Substring, onAdminPort: Bool = false) -> HTTPRoute? {
        routes.withLockedValue { $0.first { (!onAdminPort || $0.onAdminPort) && $0.matches(path) } }
    }

    public var all: [HTTPRoute] { routes.withLockedValue { $0 } }
}
