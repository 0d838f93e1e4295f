import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import RelayCore

/// `RelayListener.bind` on a real socket: the limits refuse an over-limit connection at once,
/// the guard is in front of the protocol's handlers, and closing the listener leaves accepted
/// connections alone.
@Suite struct ListenerBootstrapTests {
    /// Says "hi" to every connection it is added to.
    final class Greeter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: "hi")), promise: nil)
            context.fireChannelActive()
        }
    }

    /// A client connection that records what it reads and when it is closed.
    final class Client: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let closed = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let received = NIOLockedValueBox("")
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLockedValue { $0 += String(buffer: buffer) }
        }
        func channelInactive(context: ChannelHandlerContext) { closed.succeed() }
    }

    func connect(_ port: Int) async throws -> (any Channel, Client) {
        let client = Client()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(client) } }
            .connect(host: "127.0.0.1", port: port).get()
        return (channel, client)
    }

    @Test func limitsGuardAndPipelineAreApplied() async throws {
        var config = RelayConfig.default
        config.limits.maxConnectionsPerIP = 1
        config.limits.establishTimeoutMs = 300
        let relay = RelayContext(config: config, muxers: [], logger: Logger(label: "test"))
        let listener = try await RelayListener.bind(host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                                    relay: relay, name: "test", options: .players) { channel in
            try channel.pipeline.syncOperations.addHandler(Greeter())
        }
        let port = try #require(listener.localAddress?.port)

        let (first, firstClient) = try await connect(port)
        // Over `max_connections_per_ip`: closed at once, the protocol's handlers never added.
        let (_, second) = try await connect(port)
        try await second.closed.futureResult.get()
        #expect(second.received.withLockedValue { $0 }.isEmpty)
        #expect(first.isActive)

        // Closing the listener stops accepting but leaves the accepted connection to its guard,
        // whose establish deadline (limits.establish_timeout_ms) ends it: never played or published.
        try await listener.close()
        #expect(first.isActive)
        let began = NIODeadline.now()
        try await firstClient.closed.futureResult.get()
        let waited = (NIODeadline.now() - began).nanoseconds / 1_000_000
        #expect(firstClient.received.withLockedValue { $0 } == "hi")
        #expect(waited < 2000, "closed after \(waited) ms")
    }
}
