import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import RelayCore

/// Players over WebSocket on the HTTP-FLV port (`ws://HOST/APP/STREAM.flv`, as flv.js and
/// mpegts.js play it; `.mp4` for fMP4, and any `HTTPStreamOutput` with a WebSocket kind). The request is admitted like an HTTP-FLV one (a refusal is a plain HTTP
/// 4xx, no upgrade); once admitted, NIO's upgrader checks the handshake and installs its frame
/// codec, and the connection becomes a `ChannelSink` player of a WebSocket TransStream:
///
/// `… → WebSocketFrameEncoder → WebSocketFrameDecoder → WebSocketProtocolErrorHandler →
/// WebSocketPlayerHandler → WebSocketBinaryFrames` (the sink writes at the tail).
enum WebSocketPlay {
    /// The largest frame a player may send (it only sends pings and close): larger is a
    /// protocol error, answered with a close frame.
    static let maxFrameSize = 64 * 1024

    /// A GET that asks for a WebSocket (`Upgrade: websocket`); whether its handshake is valid is
    /// the upgrader's question.
    static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.method == .GET && head.headers[canonicalForm: "Upgrade"].contains { $0.lowercased() == "websocket" }
    }

    static func upgrader(onUpgrade: @escaping @Sendable (any Channel) -> Void) -> NIOTypedWebSocketServerUpgrader<Void> {
        NIOTypedWebSocketServerUpgrader(
            maxFrameSize: maxFrameSize, enableAutomaticErrorHandling: true,
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in
                onUpgrade(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            })
    }

    /// The 101 response's headers (`Sec-WebSocket-Accept` …), or nil for a bad handshake
    /// (no key, version not 13, `Connection` without `upgrade`), checked before admission.
    static func handshake(_ head: HTTPRequestHead, upgrader: NIOTypedWebSocketServerUpgrader<Void>,
                          channel: any Channel) -> EventLoopFuture<HTTPHeaders?> {
        guard head.headers[canonicalForm: "Connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        return upgrader.buildUpgradeResponse(channel: channel, upgradeRequest: head, initialResponseHeaders: [:])
            .map { Optional($0) }
            .recover { _ in nil }
    }

    /// Answers 101 with `headers`, hands the connection from HTTP to WebSocket (the HTTP
    /// decoder and the handler of `context` leave the pipeline) and attaches the player.
    static func start(source: Source, info: SessionInfo, kind: OutputKind, head: HTTPRequestHead, headers: HTTPHeaders,
                      relay: RelayContext, logger: Logger, context: ChannelHandlerContext) {
        var response = "HTTP/1.1 101 Switching Protocols\r\n"
        for (name, value) in headers { response += "\(name): \(value)\r\n" }
        context.writeAndFlush(NIOAny(ByteBuffer(string: response + "\r\n")), promise: nil)
        ConnectionGuard.mark(.playing, context)

        let channel = context.channel
        let sink = ChannelSink(id: relay.nextID(), channel: channel, info: info,
                               policy: SlowPlayerPolicy(relay.config.player), logger: logger)
        let upgrader = upgrader { channel in
            do {
                let ops = channel.pipeline.syncOperations
                try ops.addHandler(WebSocketPlayerHandler(sink: sink, source: source, kind: kind, logger: logger))
                try ops.addHandler(WebSocketBinaryFrames())
            } catch {
                channel.close(promise: nil)
            }
        }
        do {
            let ops = channel.pipeline.syncOperations
            ops.removeHandler(try ops.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
            ops.removeHandler(context: context, promise: nil)
        } catch {
            logger.warning("\(info.protocolName) upgrade from \(info.remoteAddress) failed: \(error)")
            channel.close(promise: nil)
            return
        }
        upgrader.upgrade(channel: channel, upgradeRequest: head).whenComplete { result in
            guard case .success = result, channel.isActive else {
                channel.close(promise: nil)
                return
            }
            logger.info("\(info.protocolName) player joined", metadata: ["remote": "\(info.remoteAddress)", "stream": "\(source.id)"])
            Task {
                if await !source.attach(sink, kind: kind) { channel.close(promise: nil) }
            }
        }
    }
}
