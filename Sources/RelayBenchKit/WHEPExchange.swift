import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 request on a connection of its own: WHEP's POST of the offer and its DELETE.
/// The session lives on UDP, so nothing keeps the connection afterwards.
enum WHEPExchange {
    struct Answer: Sendable {
        var status: Int
        var location: String?
        var body: String
    }

    /// An SDP answer is a few kB; a larger body is not one.
    static let maxBodyBytes = 64 << 10

    /// `body` goes as application/sdp; the answer must be complete within `timeout`.
    static func send(_ method: HTTPMethod, host: String, port: Int, path: String, body: String?,
                     group: any EventLoopGroup, timeout: TimeAmount = .seconds(10)) async throws -> Answer {
        let loop = group.next()
        let promise = loop.makePromise(of: Answer.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHTTPClientHandlers()
                        try ch.pipeline.syncOperations.addHandler(WHEPAnswerReader(promise: promise))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        let timer = loop.scheduleTask(in: timeout) {
            promise.fail(WHEPError("\(method) \(path): no answer within \(timeout.nanoseconds / 1_000_000) ms"))
        }
        promise.futureResult.whenComplete { _ in
            timer.cancel()
            channel.close(promise: nil)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "User-Agent", value: "relay-bench")
        headers.add(name: "Connection", value: "close")
        let payload = body.map { channel.allocator.buffer(string: $0) }
        if payload != nil { headers.add(name: "Content-Type", value: "application/sdp") }
        headers.add(name: "Content-Length", value: String(payload?.readableBytes ?? 0))
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)),
                      promise: nil)
        if let payload { channel.write(HTTPClientRequestPart.body(.byteBuffer(payload)), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }
}

/// Collects one response into `promise`; the connection's end before it fails the promise.
private final class WHEPAnswerReader: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<WHEPExchange.Answer>
    private var answer: WHEPExchange.Answer?
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<WHEPExchange.Answer>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            answer = .init(status: Int(head.status.code), location: head.headers.first(name: "Location"), body: "")
        case .body(var part):
            guard body.readableBytes + part.readableBytes <= WHEPExchange.maxBodyBytes else {
                promise.fail(WHEPError("answer body over \(WHEPExchange.maxBodyBytes) bytes"))
                return
            }
            body.writeBuffer(&part)
        case .end:
            guard var answer else { return }
            answer.body = String(buffer: body)
            promise.succeed(answer)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(WHEPError("connection closed before the answer"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// Why a WHEP player could not start or stopped.
struct WHEPError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
