import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// An error the API answers with: `{"error": message, "status": code}`.
struct AdminError: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    var description: String { "\(status.code) \(message)" }
}

typealias Context = AdminRequestContext
typealias Handler = @Sendable (Request, Context) async throws -> Response

/// The admin API's routes and handlers.
public struct AdminAPI: Sendable {
    /// One endpoint: `path` is as openapi.yaml writes it (`{stream}` matches a stream id with its
    /// slashes, literal or %2F-encoded).
    public struct Route: Sendable, Hashable {
        public var method: String
        public var path: String
    }

    let env: AdminEnvironment
    let config: AdminConfig
    let scrape: ScrapeMetrics
    /// The admin listener's own port, once bound (for `GET /api/v1/server`).
    private let ownPort = NIOLockedValueBox<Int?>(nil)

    init(environment: AdminEnvironment, config: AdminConfig) {
        self.env = environment
        self.config = config
        self.scrape = ScrapeMetrics(protocols: environment.protocols.sessionProtocols)
    }

    func setPort(_ port: Int?) { ownPort.withLockedValue { $0 = port } }
    var port: Int? { ownPort.withLockedValue { $0 } }

    private struct Endpoint: Sendable {
        var method: HTTPRequest.Method
        var path: String
        var handler: Handler
    }

    private var endpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/api/v1/server", handler: serverInfo),
            Endpoint(method: .get, path: "/api/v1/stats", handler: stats),
            Endpoint(method: .get, path: "/api/v1/streams", handler: listStreams),
            Endpoint(method: .get, path: "/api/v1/streams/{stream}", handler: getStream),
            Endpoint(method: .delete, path: "/api/v1/streams/{stream}", handler: closeStream),
            Endpoint(method: .get, path: "/api/v1/players", handler: listPlayers),
            Endpoint(method: .get, path: "/api/v1/players/{id}", handler: getPlayer),
            Endpoint(method: .delete, path: "/api/v1/players/{id}", handler: kickPlayer),
            Endpoint(method: .post, path: "/api/v1/hooks/reload", handler: reloadHooks),
            Endpoint(method: .get, path: "/metrics", handler: metrics),
        ] + env.protocols.adminEndpoints.map { e in
            Endpoint(method: HTTPRequest.Method(rawValue: e.method.rawValue) ?? .get, path: e.path, handler: mount(e))
        }
    }

    /// A protocol module's endpoint as a route handler: the stream id, query and body are read as
    /// the admin's own endpoints read them (the body when the handler asks).
    private func mount(_ endpoint: AdminEndpoint) -> Handler {
        let limit = config.maxBodyBytes
        let hasStream = endpoint.path.hasSuffix("/{stream}")
        return { request, context in
            let stream: Result<String, AdminFailure>
            if hasStream {
                do {
                    stream = .success(try streamID(context))
                } catch let error as AdminError {
                    stream = .failure(AdminFailure(error.status.code, error.message))
                }
            } else {
                stream = .failure(.badRequest("missing stream id"))
            }
            let query = try queryParameters(request)
            let reply = try await endpoint.handle(AdminRequest(streamID: stream, logger: context.logger, query: query) {
                try await jsonObject(request, limit: limit)
            })
            return try json(reply.body, status: httpStatus(reply.status))
        }
    }

    /// Every endpoint with these protocol modules, for the test that keeps openapi.yaml true.
    public static func routes(protocols: ProtocolRegistry) -> [Route] {
        let env = AdminEnvironment(context: RelayContext(config: .default, muxers: [], logger: Logger(label: "routes")),
                                   protocols: protocols, reloadHooks: nil, configPath: nil, eventLoopThreads: 1)
        return AdminAPI(environment: env, config: RelayConfig.default.admin).endpoints.map {
            Route(method: $0.method.rawValue, path: $0.path)
        }
    }

    func router() -> Router<Context> {
        let router = Router(context: Context.self, options: [.autoGenerateHeadEndpoints])
        let endpoints = self.endpoints
        router.add(middleware: HTTPRouteMiddleware(routes: env.context.httpRoutes))
        router.add(middleware: ErrorMiddleware(allowed: { path in Self.allowedMethods(path, endpoints) }))
        router.add(middleware: ConsoleMiddleware(files: ConsoleFiles.load(logger: env.context.logger)))
        router.add(middleware: TokenMiddleware(token: config.token))
        for e in endpoints {
            // `{stream}` carries slashes: a recursive wildcard; other parameters are one segment.
            let routerPath = RouterPath(e.path.replacingOccurrences(of: "{stream}", with: "**")
                .replacingOccurrences(of: "{id}", with: ":id"))
            router.on(routerPath, method: e.method, use: e.handler)
        }
        return router
    }

    /// The methods served on a request path (empty: no such path), for 405 and `Allow`.
    private static func allowedMethods(_ path: String, _ endpoints: [Endpoint]) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var methods: [String] = []
        for e in endpoints where matches(parts[...], e.path.split(separator: "/")[...]) {
            methods.append(e.method.rawValue)
            if e.method == .get { methods.append("HEAD") }
        }
        return methods
    }

    private static func matches(_ parts: ArraySlice<Substring>, _ template: ArraySlice<Substring>) -> Bool {
        guard let t = template.first else { return parts.isEmpty }
        guard !parts.isEmpty else { return false }
        if t == "{stream}" { return template.count == 1 }  // one or more segments, always last
        if t.hasPrefix("{") || t == parts.first! { return matches(parts.dropFirst(), template.dropFirst()) }
        return false
    }
}

// MARK: middleware

/// Turns every error into a JSON answer with its status (Hummingbird would answer an unknown
/// error 500 with no body).
struct ErrorMiddleware: RouterMiddleware {
    /// Methods served on a path (to tell 405 from 404).
    let allowed: @Sendable (String) -> [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as AdminError {
            return errorResponse(error.status, error.message, headers: error.headers)
        } catch let error as AdminFailure {
            return errorResponse(httpStatus(error.status), error.message)
        } catch let error as HTTPError where error.status == .notFound {
            // No route for this method and path: 405 when the path exists with other methods.
            let methods = allowed(request.uri.path)
            if methods.isEmpty {
                return errorResponse(.notFound, "no such endpoint: \(printable(request.uri.path))")
            }
            let allow = methods.joined(separator: ", ")
            return errorResponse(.methodNotAllowed, "\(printable(request.method.rawValue)) is not allowed here (allowed: \(allow))",
                                 headers: [.allow: allow])
        } catch let error as HTTPError {
            return errorResponse(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
        } catch is NIOTooManyBytesError {
            return errorResponse(.contentTooLarge, "request body is larger than admin.max_body_bytes")
        } catch let error as any HTTPResponseError {
            return errorResponse(error.status, "\(error)")
        } catch {
            context.logger.error("admin API \(request.method) \(request.uri.path): \(error)")
            return errorResponse(.internalServerError, "internal error: \(error)")
        }
    }
}

/// `Authorization: Bearer <token>` on every request when `admin.token` is set.
struct TokenMiddleware: RouterMiddleware {
    let token: [UInt8]

    init(token: String) { self.token = Array(token.utf8) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !token.isEmpty else { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix,
              constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), token) else {
            throw AdminError(.unauthorized, header.isEmpty ? "missing bearer token" : "invalid bearer token",
                             headers: [.wwwAuthenticate: "Bearer realm=\"LiveRelay admin\""])
        }
        return try await next(request, context)
    }
}

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<max(a.count, b.count) {
        diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
    }
    return diff == 0
}

// MARK: responses

private let encoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    return e
}()

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// A module's status code with its standard reason phrase (HTTPTypes leaves a numeric status
/// without one).
func httpStatus(_ code: Int) -> HTTPResponse.Status {
    switch code {
    case 200: return .ok
    case 201: return .created
    case 202: return .accepted
    case 204: return .noContent
    case 400: return .badRequest
    case 401: return .unauthorized
    case 403: return .forbidden
    case 404: return .notFound
    case 405: return .methodNotAllowed
    case 409: return .conflict
    case 413: return .contentTooLarge
    case 422: return .unprocessableContent
    case 429: return .tooManyRequests
    case 503: return .serviceUnavailable
    case 100...599: return HTTPResponse.Status(code: code)
    default: return .internalServerError
    }
}

func errorResponse(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
    var response = (try? json(ErrorBody(error: message, status: status.code), status: status))
        ?? Response(status: status)
    for field in headers { response.headers.append(field) }
    return response
}

// MARK: request helpers

/// The stream id of a `{stream}` path: the wildcard's segments, each percent-decoded (so both
/// `live/cam` and `live%2Fcam` work), joined with `/`.
func streamID(_ context: Context) throws -> String {
    let parts = context.parameters.getCatchAll()
    guard !parts.isEmpty else { throw AdminError(.badRequest, "missing stream id") }
    var segments: [String] = []
    for part in parts {
        guard let decoded = percentDecoded(part) else { throw AdminError(.badRequest, "bad percent-encoding in the stream id") }
        segments.append(decoded)
    }
    let id = segments.joined(separator: "/")
    guard isValidStreamID(id) else {
        throw AdminError(.badRequest, "'\(printable(id))' is not a valid stream id (app/stream: letters, digits, -_.~ between slashes)")
    }
    return id
}

/// Strict percent-decoding (`+` stays `+`); nil for a bad escape or invalid UTF-8.
func percentDecoded(_ s: Substring) -> String? {
    guard s.contains("%") else { return String(s) }
    var bytes: [UInt8] = []
    var it = Array(s.utf8)[...]
    while let c = it.popFirst() {
        if c == UInt8(ascii: "%") {
            guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(v)
            it = it.dropFirst(2)
        } else {
            bytes.append(c)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}

func queryParameters(_ request: Request) throws -> [String: String] {
    guard let query = request.uri.query, !query.isEmpty else { return [:] }
    var params: [String: String] = [:]
    for pair in query.split(separator: "&") where !pair.isEmpty {
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard let key = percentDecoded(kv[0]), let value = kv.count > 1 ? percentDecoded(kv[1]) : "" else {
            throw AdminError(.badRequest, "bad percent-encoding in the query string")
        }
        params[key] = value
    }
    return params
}

/// The request body as a JSON object (nil when the body is empty), at most `admin.max_body_bytes`.
func jsonObject(_ request: Request, limit: Int) async throws -> [String: JSONValue]? {
    if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
        throw AdminError(.contentTooLarge, "request body of \(length) bytes is larger than admin.max_body_bytes (\(limit))")
    }
    let body: ByteBuffer
    do {
        body = try await request.body.collect(upTo: limit)
    } catch is NIOTooManyBytesError {
        throw AdminError(.contentTooLarge, "request body is larger than admin.max_body_bytes (\(limit))")
    }
    let bytes = body.readableBytesView
    // No body is no body; whitespace alone is not a JSON document.
    if bytes.isEmpty { return nil }
    let value: JSONValue
    do {
        value = try JSONValue.parse(Data(bytes))
    } catch {
        throw AdminError(.badRequest, "request body is not valid JSON")
    }
    guard case .object(let object) = value else {
        throw AdminError(.badRequest, "request body must be a JSON object, got \(value.kindDescription)")
    }
    return object
}
