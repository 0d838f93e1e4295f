import Logging
import NIOCore
import NIOHTTP1
import RelayCore

/// The players' HTTP listener (default port 8080, config `http_flv`): HTTP-FLV, fMP4 and their
/// WebSocket players (`HTTPStreamOutput`), and the modules' HTTP routes (HLS, `/index/api`).
public enum HTTPFLVServer {
    public static func bind(host: String, port: Int, group: any EventLoopGroup, relay: RelayContext) async throws -> any Channel {
        let logger = relay.logger
        let http = relay.config.httpFLV
        return try await RelayListener.bind(host: host, port: port, group: group, relay: relay, name: "http_flv",
                                            options: .players) { channel in
            try channel.pipeline.syncOperations.addHandler(RequestHeadGuard(
                protocolName: "flv", timeoutMs: http.requestTimeoutMs, maxBytes: http.maxHeaderBytes,
                tooLargeResponse: ByteBuffer(string: "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                logger: logger))
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(HTTPFLVHandler(relay: relay, logger: logger))
        }
    }

    /// RelayFLV's protocol module: the HTTP-FLV listener when `http_flv.enabled`, and the
    /// `record` flag of the admin API's server summary (recording is RelayFLV's too).
    public static func module(relay: RelayContext, group: any EventLoopGroup) -> ListenerModule {
        let c = relay.config.httpFLV.listener
        let listeners = c.enabled ? [ListenerModule.Listener(name: "http_flv", host: c.host, port: c.port) {
            try await bind(host: c.host, port: c.port, group: group, relay: relay)
        }] : []
        let protocols = relay.httpStreams.flatMap { [$0.http.protocolName] + ($0.webSocket.map { [$0.protocolName] } ?? []) }
        return ListenerModule(name: "http_flv", sessionProtocols: protocols,
                              serverConfig: ["record": .bool(relay.config.record.enabled)],
                              listeners: listeners, logger: relay.logger)
    }
}
