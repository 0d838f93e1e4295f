import Logging

/// An admin API endpoint a protocol module serves, without the HTTP framework: `RelayAdmin`
/// mounts it behind the token, the connection limits and the JSON error format.
public struct AdminEndpoint: Sendable {
    public enum Method: String, Sendable {
        case get = "GET", post = "POST", put = "PUT", delete = "DELETE"
    }

    public var method: Method
    /// As openapi.yaml writes it; `{stream}` matches a stream id with its slashes (literal or
    /// %2F-encoded) and must be the last segment.
    public var path: String
    public var handle: @Sendable (AdminRequest) async throws -> AdminReply

    public init(_ method: Method, _ path: String, handle: @escaping @Sendable (AdminRequest) async throws -> AdminReply) {
        self.method = method
        self.path = path
        self.handle = handle
    }
}

/// What a module's handler gets of a request. The stream id and the body are read when the
/// handler asks, so its own checks (a disabled protocol: 409) come first, as it orders them.
public struct AdminRequest: Sendable {
    private let streamID: Result<String, AdminFailure>
    private let readBody: @Sendable () async throws -> [String: JSONValue]?
    public let logger: Logger
    /// The query string's parameters, percent-decoded (a repeated key: the last one).
    public let query: [String: String]

    public init(streamID: Result<String, AdminFailure>, logger: Logger, query: [String: String] = [:],
                body: @escaping @Sendable () async throws -> [String: JSONValue]?) {
        self.streamID = streamID
        self.readBody = body
        self.logger = logger
        self.query = query
    }

    /// The `{stream}` of the path, percent-decoded and checked (else a 400).
    public func stream() throws -> String { try streamID.get() }

    /// The body as a JSON object; nil when empty. Larger than `admin.max_body_bytes`: 413; not
    /// a JSON object: 400.
    public func body() async throws -> [String: JSONValue]? { try await readBody() }
}

/// An answer: a status code and a JSON body (encoded with sorted keys, nil members left out).
public struct AdminReply: Sendable {
    public var status: Int
    public var body: any Encodable & Sendable

    public init(status: Int = 200, _ body: any Encodable & Sendable) {
        self.status = status
        self.body = body
    }
}

/// An error answer: `{"error": message, "status": status}`.
public struct AdminFailure: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func badRequest(_ message: String) -> AdminFailure { AdminFailure(400, message) }
    public static func notFound(_ message: String) -> AdminFailure { AdminFailure(404, message) }
    public static func conflict(_ message: String) -> AdminFailure { AdminFailure(409, message) }

    public var description: String { "\(status) \(message)" }
}

/// At most 80 printable characters of client input, for error messages.
public func printable(_ s: String) -> String {
    let clean = String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    return clean.count > 80 ? String(clean.prefix(80)) + "…" : clean
}

extension JSONValue {
    /// What kind of value this is, for error messages ("a string").
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
