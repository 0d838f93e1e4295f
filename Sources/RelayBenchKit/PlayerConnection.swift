import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A bench player's TCP connection and the stats its protocol handler fills in: what the RTMP,
/// HTTP-FLV and RTSP players share.
public final class PlayerConnection: Sendable {
    let state: NIOLockedValueBox<PlayerStats>
    let channel: any Channel

    /// Connects to `host:port` with `handler(stats)` as the whole pipeline (TCP_NODELAY, SO_RCVBUF
    /// `receiveBufferBytes` when above 0).
    static func open(host: String, port: Int, group: any EventLoopGroup, receiveBufferBytes: Int,
                     handler: @escaping @Sendable (NIOLockedValueBox<PlayerStats>) -> any ChannelHandler) async throws -> PlayerConnection {
        let state = NIOLockedValueBox(PlayerStats(connectedAt: .now()))
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.setReceiveBuffer(receiveBufferBytes)
                    try ch.pipeline.syncOperations.addHandler(handler(state))
                }
            }
            .connect(host: host, port: port).get()
        return PlayerConnection(state: state, channel: channel)
    }

    private init(state: NIOLockedValueBox<PlayerStats>, channel: any Channel) {
        self.state = state
        self.channel = channel
    }
}

/// A player of one output protocol, on a `PlayerConnection`.
public protocol BenchPlayer: Sendable {
    var connection: PlayerConnection { get }
}

extension BenchPlayer {
    public var stats: PlayerStats { connection.state.withLockedValue { $0 } }

    /// Starts a new measurement window of frames and gaps (`PlayerStats.startWindow`).
    public func startWindow() { connection.state.withLockedValue { $0.startWindow() } }

    /// Stops reading, as a viewer whose network or app stalls: the server's writes back up.
    public func stall() async { await connection.channel.setReading(false) }

    /// Reads again after `stall()`: what the server left in the socket, then its end (if it closed us).
    public func resume() async { await connection.channel.setReading(true) }

    public func close() async { try? await connection.channel.close() }

    /// Polls until `condition` holds, the connection closed, or `timeout` passes.
    public func wait(timeout: TimeAmount, until condition: @Sendable (PlayerStats) -> Bool) async -> PlayerStats {
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline {
            let s = stats
            if condition(s) || s.closed { return s }
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return stats
    }
}

/// A player's protocol handler: what it saw goes to `state`; the connection's end and its first
/// error are recorded the same way for every protocol.
/// A bench player's handler: it parses the raw byte stream itself (no codec handlers before it)
/// and writes raw bytes (requests, commands).
protocol PlayerHandler: ChannelInboundHandler where InboundIn == ByteBuffer, OutboundOut == ByteBuffer {
    var state: NIOLockedValueBox<PlayerStats> { get }
}

extension PlayerHandler {
    func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.closed = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, "\(error)")
    }

    /// Records `message` (unless an error was recorded already) and closes the connection.
    func fail(_ context: ChannelHandlerContext, _ message: String) {
        state.withLockedValue { if $0.error == nil { $0.error = message } }
        context.close(promise: nil)
    }
}
