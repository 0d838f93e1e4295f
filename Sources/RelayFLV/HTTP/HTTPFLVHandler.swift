import Logging
import NIOCore
import NIOHTTP1
import RelayCore

/// One connection of the players' HTTP port: a player of an `HTTPStreamOutput`
/// (`GET /app/stream.flv[?query]`, `.live.flv`, `.mp4` …), the same URL asking for a WebSocket
/// (`WebSocketPlay`), or calls of modules' `HTTPRoute`s (`/index/api/…`, HLS playlists and
/// segments), several on one connection when the client keeps it alive.
///
/// Responses are written as raw bytes (no HTTP encoder in the pipeline): after the head, a
/// player's body is its TransStream's segments, already framed as HTTP chunks and shared by all players.
final class HTTPFLVHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let relay: RelayContext
    private var logger: Logger
    private var request: HTTPRequestHead?
    private var sink: ChannelSink?
    private var source: Source?
    private var kind = OutputKind.flv
    private var answered = false
    /// A request arrived while a route call was being answered (pipelining): close after it.
    private var closeAfterAnswer = false
    /// A call for a route, reading its body.
    private var routeRequest: HTTPRouteRequest?

    init(relay: RelayContext, logger: Logger) {
        self.relay = relay
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard request == nil && !answered else {
                closeAfterAnswer = true
                return
            }
            // A request while the last answer still waits to be sent: the client asks without
            // reading. Its queue of answers would grow with every request; this one is its last.
            if !context.channel.isWritable { closeAfterAnswer = true }
            if let call = HTTPRouteRequest(head, routes: relay.httpRoutes) {
                request = head
                routeRequest = call
                if call.declaredTooLarge {
                    answered = true
                    respond(context, status: .payloadTooLarge, body: "request body larger than \(HTTPRoute.maxBodyBytes) bytes\n")
                }
                return
            }
            if let refusal = Self.bodyRefusal(head) {
                // A play request has no body; one that declares one would hold the connection
                // (and its slot) while the body trickles in, or never comes.
                RelayMetrics.parseError(protocol: "flv")
                logger.warning("HTTP-FLV request from \(remote(context)) refused: \(refusal.reason)")
                answered = true
                respond(context, status: refusal.status, body: "\(refusal.reason)\n")
                return
            }
            request = head
        case .body(let bytes):
            // Only a route call reads a body; a play request with one is refused at its head.
            guard !answered, routeRequest != nil else { return }
            if routeRequest?.append(bytes) == false {
                answered = true
                logger.warning("HTTP request from \(remote(context)) refused: body larger than \(HTTPRoute.maxBodyBytes) bytes")
                respond(context, status: .payloadTooLarge, body: "request body larger than \(HTTPRoute.maxBodyBytes) bytes\n")
            }
        case .end:
            guard let head = request, !answered else { return }
            answered = true
            // From here the server works (hook, waiting for the stream): not the peer's time.
            ConnectionGuard.mark(.serving, context)
            if let call = routeRequest {
                serve(call, context: context)
            } else {
                handle(head, context: context)
            }
        }
    }

    /// Why a request head that announces a body is refused (nil: it announces none).
    static func bodyRefusal(_ head: HTTPRequestHead) -> (status: HTTPResponseStatus, reason: String)? {
        if head.headers.contains(name: "Transfer-Encoding") {
            return (.badRequest, "a play request must not have a body (Transfer-Encoding)")
        }
        for value in head.headers["Content-Length"] {
            let trimmed = value.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
            guard let length = Int(String(trimmed)), length >= 0 else {
                return (.badRequest, "bad Content-Length")
            }
            if length > 0 { return (.payloadTooLarge, "a play request must not have a body (Content-Length \(length))") }
        }
        return nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !answered {
            RelayMetrics.parseError(protocol: "flv")
            logger.warning("bad HTTP request from \(remote(context)): \(error)")
            answered = true
            respond(context, status: .badRequest, body: "bad request\n")
        } else {
            logger.debug("HTTP-FLV connection error from \(remote(context)): \(error)")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let sink, let source {
            sink.markClosed()
            source.detachLater(sink, kind: kind)
            logger.info("\(sink.info.protocolName) player left", metadata: ["remote": "\(sink.info.remoteAddress)", "stream": "\(source.id)"])
        }
        sink = nil
        source = nil
        context.fireChannelInactive()
    }

    private func remote(_ context: ChannelHandlerContext) -> String {
        // The channel's cached address: the context's asks the kernel (getpeername) on every call.
        context.channel.remoteAddress?.displayString ?? "?"
    }

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        switch head.method {
        case .OPTIONS:
            respond(context, status: .noContent, body: nil, extra: [
                ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
                ("Access-Control-Allow-Headers", "*"),
                ("Access-Control-Max-Age", "86400"),
            ])
            return
        case .GET, .HEAD:
            break
        default:
            respond(context, status: .methodNotAllowed, body: "method not allowed\n", extra: [("Allow", "GET, HEAD, OPTIONS")])
            return
        }
        let (rawPath, params) = splitQuery(head.uri[...])
        guard let (output, id) = HTTPStreamOutput.match(rawPath[...], in: relay.httpStreams) else {
            respond(context, status: .notFound, body: "not found\n")
            return
        }
        if WebSocketPlay.isUpgradeRequest(head), let kind = output.webSocket {
            playOverWebSocket(head, id: id, kind: kind, params: params, context: context)
            return
        }
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: output.http.protocolName,
                               remoteAddress: remote(context), params: params)
        let isHead = head.method == .HEAD
        admit(id: id, info: info, context: context) { handler, source, context in
            handler.start(source: source, output: output, info: info, isHead: isHead, context: context)
        }
    }

    /// Admission (hooks, limits, waiting for the stream); a refusal is answered here.
    private func admit(id: String, info: SessionInfo, context: ChannelHandlerContext,
                       then start: @escaping (HTTPFLVHandler, Source, ChannelHandlerContext) -> Void) {
        let bound = NIOLoopBound((self, context, start), eventLoop: context.eventLoop)
        relay.admitPlayer(PlayRequest(streamID: id, session: info), on: context.eventLoop) { result in
            let (handler, context, start) = bound.value
            guard context.channel.isActive else { return }
            switch result {
            case .success(let source):
                start(handler, source, context)
            case .failure(let refusal):
                handler.refuse(refusal, info: info, context: context)
            }
        }
    }

    /// A WebSocket player: the handshake is checked first (400, no hook asked), then admitted
    /// as any player; a refusal is the same HTTP answer as for HTTP-FLV, without an upgrade.
    private func playOverWebSocket(_ head: HTTPRequestHead, id: String, kind: OutputKind, params: [String: String],
                                   context: ChannelHandlerContext) {
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: kind.protocolName,
                               remoteAddress: remote(context), params: params)
        let upgrader = WebSocketPlay.upgrader { _ in }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        WebSocketPlay.handshake(head, upgrader: upgrader, channel: context.channel).whenSuccess { headers in
            let (handler, context) = bound.value
            guard let headers else {
                RelayMetrics.parseError(protocol: kind.protocolName)
                handler.logger.warning("\(kind.protocolName) request from \(info.remoteAddress) refused: bad WebSocket handshake")
                handler.respond(context, status: .badRequest, body: "bad WebSocket handshake\n")
                return
            }
            handler.admit(id: id, info: info, context: context) { handler, source, context in
                WebSocketPlay.start(source: source, info: info, kind: kind, head: head, headers: headers,
                                    relay: handler.relay, logger: handler.logger, context: context)
            }
        }
    }

    /// Answers a route call: at once when the route can (`answerNow`), else from a task (the
    /// route may wait on other loops). A client that keeps the connection alive (HLS players
    /// polling) may send its next request; the connection guard gives it a new deadline for that.
    private func serve(_ call: HTTPRouteRequest, context: ChannelHandlerContext) {
        let request = call.call(remoteIP: context.channel.remoteAddress?.ipAddress ?? "")
        let keepAlive = call.head.isKeepAlive
        let isHead = call.head.method == .HEAD
        if let answer = call.route.answerNow?(request) {
            write(answer, keepAlive: keepAlive, isHead: isHead, context: context)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        Task {
            let answer = await call.route.handle(request)
            loop.execute {
                let (handler, context) = bound.value
                handler.write(answer, keepAlive: keepAlive, isHead: isHead, context: context)
            }
        }
    }

    private func write(_ answer: HTTPAnswer, keepAlive: Bool, isHead: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let close = !keepAlive || closeAfterAnswer
        let head = HTTPRouteRequest.responseHead(answer, cors: relay.config.httpFLV.cors, keepAlive: !close)
        let body = isHead ? [] : answer.buffers
        context.write(wrapOutboundOut(head), promise: nil)
        for buffer in body.dropLast() { context.write(wrapOutboundOut(buffer), promise: nil) }
        let written = context.writeAndFlush(wrapOutboundOut(body.last ?? ByteBuffer()))
        if close {
            written.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        } else {
            request = nil
            routeRequest = nil
            answered = false
            ConnectionGuard.mark(.answered, context)
        }
    }

    private func refuse(_ refusal: PlayRefusal, info: SessionInfo, context: ChannelHandlerContext) {
        switch refusal {
        case .invalidStreamID:
            respond(context, status: .badRequest, body: "bad stream id\n")
        case .denied(let decision):
            logger.warning("\(info.protocolName) play from \(info.remoteAddress) refused: \(refusal)")
            let status: HTTPResponseStatus = decision.deniedHTTPStatus == 401 ? .unauthorized : .forbidden
            respond(context, status: status, body: "play denied: \(decision.reason)\n")
        case .notFound(let id):
            logger.info("\(info.protocolName) play of unknown stream \(id) from \(info.remoteAddress)")
            respond(context, status: .notFound, body: "stream not found\n")
        }
    }

    private func start(source: Source, output: HTTPStreamOutput, info: SessionInfo, isHead: Bool, context: ChannelHandlerContext) {
        let id = source.id
        var head = "HTTP/1.1 200 OK\r\nContent-Type: \(output.contentType)\r\nCache-Control: no-cache, no-store\r\n"
        head += "Pragma: no-cache\r\nExpires: -1\r\nConnection: close\r\n"
        if relay.config.httpFLV.cors { head += "Access-Control-Allow-Origin: *\r\n" }
        if isHead {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: head + "\r\n"))).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
            return
        }
        head += "Transfer-Encoding: chunked\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)

        let sink = ChannelSink(id: relay.nextID(), channel: context.channel, info: info,
                               policy: SlowPlayerPolicy(relay.config.player), logger: logger,
                               trailer: { HTTPChunkFraming.lastChunk })
        let kind = output.http
        self.sink = sink
        self.source = source
        self.kind = kind
        ConnectionGuard.mark(.playing, context)
        logger.info("\(info.protocolName) player joined", metadata: ["remote": "\(info.remoteAddress)", "stream": "\(id)"])
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        Task {
            let attached = await source.attach(sink, kind: kind)
            if !attached {
                loop.execute {
                    let (handler, context) = bound.value
                    handler.sink = nil
                    handler.source = nil
                    context.close(promise: nil)
                }
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, body: String?,
                         extra: [(String, String)] = []) {
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nConnection: close\r\n"
        if relay.config.httpFLV.cors { text += "Access-Control-Allow-Origin: *\r\n" }
        for (k, v) in extra { text += "\(k): \(v)\r\n" }
        let body = body ?? ""
        if status != .noContent {
            text += "Content-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
        }
        text += "\r\n" + body
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }
}
