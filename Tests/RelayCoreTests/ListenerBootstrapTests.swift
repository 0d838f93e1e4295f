import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayTestSupport
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
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(client) } }
                .connect(host: "127.0.0.1", port: port).get()
            return (channel, client)
        } catch {
            client.closed.fail(error)
            throw error
        }
    }

    func listen(_ limits: (inout RelayConfig.Limits) -> Void) async throws -> (any Channel, LogLines) {
        var config = RelayConfig.default
        limits(&config.limits)
        let lines = LogLines()
        let relay = RelayContext(config: config, muxers: [], logger: lines.logger(level: .info))
        let listener = try await RelayListener.bind(host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                                    relay: relay, name: "test", options: .players) { channel in
            try channel.pipeline.syncOperations.addHandler(Greeter())
        }
        return (listener, lines)
    }

    /// Waits (at most 10 s) until the client has read `text`.
    func said(_ client: Client, _ text: String) async throws {
        for _ in 0..<1000 where client.received.withLockedValue({ $0 }) != text {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(client.received.withLockedValue { $0 } == text)
    }

    /// Over `max_connections_per_ip` a connection is closed at once, before the protocol's
    /// handlers are added; closing the listener stops accepting and leaves accepted ones open.
    @Test func limitsApplyBeforeThePipeline() async throws {
        let (listener, lines) = try await listen { $0.maxConnectionsPerIP = 1; $0.establishTimeoutMs = 600_000 }
        let port = try #require(listener.localAddress?.port)
        let (firstChannel, first) = try await connect(port)
        try await said(first, "hi")
        let (_, second) = try await connect(port)
        try await second.closed.futureResult.get()
        #expect(second.received.withLockedValue { $0 }.isEmpty)
        #expect(lines.contains("limits.max_connections_per_ip"))

        try await listener.close()
        await #expect(throws: (any Error).self) {
            _ = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        }
        #expect(firstChannel.isActive)
        try await firstChannel.close()
    }

    /// The `ConnectionGuard` is in front: a connection that never plays or publishes is closed
    /// at `limits.establish_timeout_ms`.
    @Test func theGuardClosesAConnectionThatNeverEstablishes() async throws {
        let (listener, lines) = try await listen { $0.establishTimeoutMs = 100 }
        let port = try #require(listener.localAddress?.port)
        let (_, client) = try await connect(port)
        try await client.closed.futureResult.get()
        #expect(client.received.withLockedValue { $0 } == "hi")
        #expect(lines.contains("not playing or publishing within 100 ms"))
        try await listener.close()
    }
}
