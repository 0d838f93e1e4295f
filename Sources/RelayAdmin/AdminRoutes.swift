import Hummingbird
import NIOCore
import RelayCore

/// The admin's request context: Hummingbird's basic one plus the peer's address, which
/// `HTTPRoute`s are given (a dialect may exempt loopback callers from its secret).
struct AdminRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// Serves the modules' `HTTPRoute`s (`/index/api/…`) on the admin port, ahead of the admin
/// token and JSON errors: a route checks its own credentials and answers in its own dialect.
struct HTTPRouteMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let routes: HTTPRouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = routes.route(for: request.uri.path[...], onAdminPort: true) else { return try await next(request, context) }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > HTTPRoute.maxBodyBytes {
            return Response(status: .contentTooLarge)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: HTTPRoute.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return Response(status: .contentTooLarge)
        }
        let call = HTTPCall(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                            contentType: request.headers[.contentType], body: Array(body.readableBytesView),
                            remoteIP: context.remoteAddress?.ipAddress ?? "")
        let answer = await route.handle(call)
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        for (name, value) in answer.headers {
            if let field = HTTPFields.Element.Name(name) { headers[field] = value }
        }
        let buffers = answer.buffers
        return Response(status: HTTPResponse.Status(code: answer.status), headers: headers,
                        body: ResponseBody(contentLength: answer.contentLength) { writer in
                            for buffer in buffers { try await writer.write(buffer) }
                            try await writer.finish(nil)
                        })
    }
}
