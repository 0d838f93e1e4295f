import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A bare TCP client for bad-input tests: sends whatever bytes, records what comes back and
/// whether the server closed the connection.
final class RawConnection: Sendable {
    private let channel: any Channel
    private let state: NIOLockedValueBox<(received: ByteBuffer, closed: Bool)>

    static func connect(port: Int) async throws -> RawConnection {
        let state = NIOLockedValueBox((received: ByteBuffer(), closed: false))
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Recorder(state: state)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, state: state)
    }

    private init(channel: any Channel, state: NIOLockedValueBox<(received: ByteBuffer, closed: Bool)>) {
        self.channel = channel
        self.state = state
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer)
    }

    var received: ByteBuffer { state.withLockedValue { $0.received } }
    var isClosed: Bool { state.withLockedValue { $0.closed } }

    /// Waits until the server closes the connection (true) or `seconds` pass (false).
    func waitClosed(seconds: Double) async -> Bool {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        while NIODeadline.now() < deadline {
            if isClosed { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return isClosed
    }

    /// Waits until at least `count` bytes have arrived.
    func waitReceived(_ count: Int, seconds: Double) async -> ByteBuffer {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        while NIODeadline.now() < deadline, received.readableBytes < count, !isClosed {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return received
    }

    func close() async { try? await channel.close() }

    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let state: NIOLockedValueBox<(received: ByteBuffer, closed: Bool)>
        init(state: NIOLockedValueBox<(received: ByteBuffer, closed: Bool)>) { self.state = state }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            state.withLockedValue { _ = $0.received.writeBuffer(&b) }
        }
        func channelInactive(context: ChannelHandlerContext) { state.withLockedValue { $0.closed = true; return } }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
