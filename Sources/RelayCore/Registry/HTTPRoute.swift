import NIOConcurrencyHelpers

/// An HTTP endpoint outside the admin API's JSON conventions, served on the players' HTTP port
/// (HTTP-FLV) and on the admin port: a control dialect other software speaks (ZLMediaKit's
/// `/index/api/*`). The route checks its own credentials; the admin token does not apply.
public struct HTTPRoute: Sendable {
    /// Paths starting with it are this route's ("/index/api/").
    public var prefix: String
    public var handle: @Sendable (HTTPCall) async -> HTTPAnswer

    public init(prefix: String, handle: @escaping @Sendable (HTTPCall) async -> HTTPAnswer) {
        self.prefix = prefix
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
    public var body: [UInt8]

    public init(status: Int = 200, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// The routes of every module, looked up by the listeners that serve them. Filled once by the
/// server after its modules are made (before any listener starts); read per request.
public final class HTTPRouteTable: Sendable {
    private let routes: NIOLockedValueBox<[HTTPRoute]> = NIOLockedValueBox([])

    public init() {}

    public func install(_ new: [HTTPRoute]) {
        routes.withLockedValue { $0 = new }
    }

    /// The route serving `path` (without its query), if any.
    public func route(for path: Substring) -> HTTPRoute? {
        routes.withLockedValue { $0.first { path.hasPrefix($0.prefix) } }
    }

    public var all: [HTTPRoute] { routes.withLockedValue { $0 } }
}
