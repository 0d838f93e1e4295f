import NIOCore
import NIOWebSocket

/// Last in a WebSocket player's pipeline: each ByteBuffer a `ChannelSink` writes (one shared
/// segment) leaves as one binary frame around that same buffer. The frame encoder writes the
/// frame header separately, so the segment's bytes are never copied per player.
final class WebSocketBinaryFrames: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    static func frame(_ bytes: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .binary, data: bytes)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(wrapOutboundOut(Self.frame(unwrapOutboundIn(data))), promise: promise)
    }
}
