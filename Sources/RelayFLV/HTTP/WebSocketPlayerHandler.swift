import Logging
import NIOCore
import NIOWebSocket
import RelayCore

/// The control side of a WebSocket player once upgraded: ping → pong, close → close, anything
/// else from the client ignored (the decoder bounds its frames). A close the server starts
/// (stream ended, kicked, slow) sends a close frame first, best effort: a player that is not
/// reading loses it with the rest of its queue. Detaches the player when the connection ends.
final class WebSocketPlayerHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let sink: ChannelSink
    private let source: Source
    private let kind: OutputKind
    private let logger: Logger
    private var closeSent = false
    private var detached = false

    init(sink: ChannelSink, source: Source, kind: OutputKind, logger: Logger) {
        self.sink = sink
        self.source = source
        self.kind = kind
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping:
            // A peer that pings without reading gets no pongs queued for it: the outbound queue
            // stays bounded by the player's own limits.
            guard !closeSent, context.channel.isWritable else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
                                  promise: nil)
        case .connectionClose:
            // Echo the peer's status code (RFC 6455 5.5.1), then close.
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self)
            guard !closeSent else {
                context.close(promise: nil)
                return
            }
            closeSent = true
            var reply = context.channel.allocator.buffer(capacity: 2)
            if let code { reply.writeInteger(code) }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                .whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        default:
            break  // text, binary, pong: a player has nothing to say
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, !closeSent, context.channel.isActive {
            closeSent = true
            var data = context.channel.allocator.buffer(capacity: 2)
            data.write(webSocketErrorCode: .normalClosure)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)),
                                  promise: nil)
        }
        context.close(mode: mode, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // WebSocketProtocolErrorHandler (before this handler) has answered protocol errors with a
        // close frame and closes; anything else ends the connection here.
        logger.debug("WebSocket player \(sink.info.remoteAddress) error: \(error)")
        if !(error is NIOWebSocketError) { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !detached {
            detached = true
            sink.markClosed()
            source.detachLater(sink, kind: kind)
            logger.info("\(sink.info.protocolName) player left", metadata: ["remote": "\(sink.info.remoteAddress)", "stream": "\(source.id)"])
        }
        context.fireChannelInactive()
    }
}
