import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore

/// A minimal HTTP/1.1 client for the admin API: one request per connection (`Connection: close`),
/// the whole answer read until the server closes.
struct AdminHTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data

        var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as JSON (nil when it is not JSON).
        var json: JSONValue? { try? JSONValue.parse(body) }
        /// The body as JSON, `.null` when it is not JSON.
        var value: JSONValue { json ?? .null }
    }

    let port: Int
    var token: String?

    init(port: Int, token: String? = nil) {
        self.port = port
        self.token = token
    }

    func get(_ path: String) async throws -> Response { try await request("GET", path) }
    func delete(_ path: String) async throws -> Response { try await request("DELETE", path) }
    func post(_ path: String, json: String?) async throws -> Response { try await request("POST", path, body: json.map { Array($0.utf8) }) }

    func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:],
                 timeout: Double = 15) async throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body {
            if headers["Content-Type"] == nil { head += "Content-Type: application/json\r\n" }
            if headers["Transfer-Encoding"] == nil { head += "Content-Length: \(body.count)\r\n" }
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        let received = NIOLockedValueBox(ByteBuffer())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Collector(received: received)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        // The answer is complete when the server closes (Connection: close).
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        timer.cancel()
        let raw = received.withLockedValue { Data($0.readableBytesView) }
        guard !raw.isEmpty else { throw AdminHTTPError.timeout("\(method) \(path)") }
        return try Self.parse(raw)
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<ByteBuffer>
        init(received: NIOLockedValueBox<ByteBuffer>) { self.received = received }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.withLockedValue { _ = $0.writeBuffer(&bytes) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static func parse(_ raw: Data) throws -> Response {
        guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else { throw AdminHTTPError.malformed(String(decoding: raw, as: UTF8.self)) }
        let head = String(decoding: raw[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw AdminHTTPError.malformed(head[0]) }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(raw[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = dechunk(body)
        }
        return Response(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: Data) -> Data {
        var out = Data()
        var rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= size else { break }
            let end = rest.index(start, offsetBy: size)
            out.append(rest[start..<end])
            rest = rest[end...].dropFirst(2)
        }
        return out
    }
}

enum AdminHTTPError: Error {
    case timeout(String)
    case malformed(String)
}

extension JSONValue {
    var int: Int? { if case .number(let n) = self, let i = Int(exactly: n) { return i }; return nil }
    var double: Double? { if case .number(let n) = self { return n }; return nil }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    var items: [JSONValue] { if case .array(let a) = self { return a }; return [] }
}
