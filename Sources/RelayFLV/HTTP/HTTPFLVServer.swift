import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RelayCore

/// The HTTP-FLV listener (default port 8080).
public enum HTTPFLVServer {
    public static func bind(host: String, port: Int, group: any EventLoopGroup, relay: RelayContext) async throws -> any Channel {
        let logger = relay.logger
        let player = relay.config.player
        let http = relay.config.httpFLV
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: PlayerSocket.waterMark(player))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard try relay.admitAndGuard(channel, listener: "http_flv") else { return }
                    PlayerSocket.applySendBuffer(player, to: channel)
                    try channel.pipeline.syncOperations.addHandler(RequestHeadGuard(
                        protocolName: "flv", timeoutMs: http.requestTimeoutMs, maxBytes: http.maxHeaderBytes,
                        tooLargeResponse: ByteBuffer(string: "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                        logger: logger))
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try channel.pipeline.syncOperations.addHandler(HTTPFLVHandler(relay: relay, logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}
