import NIOCore
import NIOHTTP1
import RelayCore

/// A request for an `HTTPRoute` (another dialect's API) on the players' HTTP port: its body is
/// read, bounded by `HTTPRoute.maxBodyBytes`, within the listener's request deadline.
struct HTTPRouteRequest {
    let route: HTTPRoute
    let head: HTTPRequestHead
    private(set) var body: [UInt8] = []

    /// nil when `head` is not for a route.
    init?(_ head: HTTPRequestHead, routes: HTTPRouteTable) {
        let path = head.uri[...].prefix { $0 != "?" }
        guard let route = routes.route(for: path) else { return nil }
        self.route = route
        self.head = head
    }

    /// A declared body too large to read (413), before any of it is read.
    var declaredTooLarge: Bool {
        head.headers["Content-Length"].contains { Int($0.trimmingCharacters(in: .whitespaces)).map { $0 > HTTPRoute.maxBodyBytes } ?? true }
    }

    /// False when the body grew past the bound.
    mutating func append(_ buffer: ByteBuffer) -> Bool {
        guard body.count + buffer.readableBytes <= HTTPRoute.maxBodyBytes else { return false }
        body.append(contentsOf: buffer.readableBytesView)
        return true
    }

    func call(remoteIP: String) -> HTTPCall {
        let uri = head.uri
        let path = uri.prefix { $0 != "?" }
        let query = uri.dropFirst(path.count + (path.count < uri.count ? 1 : 0))
        return HTTPCall(method: head.method.rawValue, path: String(path), query: String(query),
                        contentType: head.headers.first(name: "Content-Type"), body: body, remoteIP: remoteIP)
    }

    /// The answer's status line and headers as HTTP/1.1 bytes; its buffers follow as they are.
    static func responseHead(_ answer: HTTPAnswer, cors: Bool, keepAlive: Bool) -> ByteBuffer {
        let status = HTTPResponseStatus(statusCode: answer.status)
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nConnection: \(keepAlive ? "keep-alive" : "close")\r\n"
        if cors { text += "Access-Control-Allow-Origin: *\r\n" }
        for (name, value) in answer.headers where Self.isToken(name) && !value.contains(where: { $0 == "\r" || $0 == "\n" }) {
            text += "\(name): \(value)\r\n"
        }
        text += "Content-Type: \(answer.contentType)\r\nContent-Length: \(answer.contentLength)\r\n\r\n"
        return ByteBuffer(string: text)
    }

    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }
    }
}
