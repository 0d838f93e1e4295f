import NIOCore
import NIOPosix
import RelayCore

/// The RTMP listener (default port 1935): publishers and players on the same port.
public enum RTMPServer {
    public static func bind(host: String, port: Int, group: any EventLoopGroup, relay: RelayContext) async throws -> any Channel {
        let player = relay.config.player
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: PlayerSocket.waterMark(player))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No establish deadline until RTMPServerHandler marks itself (it has its own publish/play timer).
                    guard try relay.admitAndGuard(channel, listener: "rtmp", establish: false) else { return }
                    PlayerSocket.applySendBuffer(player, to: channel)
                    try channel.pipeline.syncOperations.addHandler(RTMPServerHandler(relay: relay))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}
