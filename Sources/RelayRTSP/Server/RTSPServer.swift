import NIOCore
import NIOPosix
import RelayCore

/// The RTSP listener (default port 8554): players over TCP interleaved or UDP.
public enum RTSPServer {
    /// Largest request body accepted (else 413 and close): a play-only server takes no ANNOUNCE,
    /// and GET_PARAMETER / SET_PARAMETER bodies are a few short lines.
    public static let maxBodyBytes = 4096

    public static func bind(host: String, port: Int, group: any EventLoopGroup, relay: RelayContext) async throws -> any Channel {
        let player = relay.config.player
        let rtsp = relay.config.rtsp
        let ports = UDPPortAllocator(min: relay.config.rtsp.udpPortMin, max: relay.config.rtsp.udpPortMax)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: PlayerSocket.waterMark(player))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard try relay.admitAndGuard(channel, listener: "rtsp") else { return }
                    PlayerSocket.applySendBuffer(player, to: channel)
                    // The first request's deadline here; every request's head size in the decoder.
                    try channel.pipeline.syncOperations.addHandler(RequestHeadGuard(
                        protocolName: "rtsp", timeoutMs: rtsp.requestTimeoutMs, maxBytes: .max, logger: relay.logger))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPFrameDecoder(
                        maxHeadBytes: rtsp.maxHeaderBytes, maxBodyBytes: maxBodyBytes)))
                    try channel.pipeline.syncOperations.addHandler(RTSPServerHandler(relay: relay, ports: ports))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}
