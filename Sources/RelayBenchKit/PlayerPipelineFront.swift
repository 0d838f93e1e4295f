import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The first handler of the players built on NIO's HTTP and WebSocket codecs (WS-FLV, WS-fMP4,
/// HTTP fMP4, HLS): counts every byte received, framing included (as the HTTP-FLV player does,
/// so delivered bytes compare), then passes them on to the codec handlers it installs after itself.
final class PlayerPipelineFront: PlayerHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let state: NIOLockedValueBox<PlayerStats>
    private let install: (ChannelPipeline.SynchronousOperations, PlayerPipelineFront) throws -> Void

    /// `install`: adds the protocol's handlers, at `.after(front)`.
    init(state: NIOLockedValueBox<PlayerStats>,
         install: @escaping (ChannelPipeline.SynchronousOperations, PlayerPipelineFront) throws -> Void) {
        self.state = state
        self.install = install
    }

    func handlerAdded(context: ChannelHandlerContext) {
        do {
            try install(context.pipeline.syncOperations, self)
        } catch {
            fail(context, "pipeline: \(error)")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let n = unwrapInboundIn(data).readableBytes
        state.withLockedValue { $0.bytes += n }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }
}

extension NIOLockedValueBox where Value == PlayerStats {
    /// Records a player's first error and closes its connection (for handlers after the front).
    func fail(_ context: ChannelHandlerContext, _ message: String) {
        withLockedValue { if $0.error == nil { $0.error = message } }
        context.close(promise: nil)
    }
}

extension PlayerConnection {
    /// Sends `GET path` through the pipeline's HTTP client encoder (the fMP4 and WebSocket players).
    func sendGET(_ path: String, host: String, port: Int) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "User-Agent", value: "relay-bench")
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)),
                      promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil))
    }
}
