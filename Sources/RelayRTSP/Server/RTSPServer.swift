import NIOCore
import RelayCore

/// The RTSP listener (default port 8554): players and publishers (ANNOUNCE/RECORD) over TCP
/// interleaved or UDP.
public enum RTSPServer {
    /// Largest request body accepted (else 413 and close): an ANNOUNCE's SDP (a few hundred
    /// bytes for two tracks with their parameter sets); GET_PARAMETER / SET_PARAMETER bodies
    /// are a few short lines.
    public static let maxBodyBytes = 4096

    public static func bind(host: String, port: Int, group: any EventLoopGroup, relay: RelayContext) async throws -> any Channel {
        let rtsp = relay.config.rtsp
        let ports = UDPPortAllocator(min: rtsp.udpPortMin, max: rtsp.udpPortMax)
        return try await RelayListener.bind(host: host, port: port, group: group, relay: relay, name: "rtsp",
                                            options: .players) { channel in
            // The first request's deadline here; every request's head size in the decoder.
            try channel.pipeline.syncOperations.addHandler(RequestHeadGuard(
                protocolName: "rtsp", timeoutMs: rtsp.requestTimeoutMs, maxBytes: .max, logger: relay.logger))
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPFrameDecoder(
                maxHeadBytes: rtsp.maxHeaderBytes, maxBodyBytes: maxBodyBytes)))
            try channel.pipeline.syncOperations.addHandler(RTSPServerHandler(relay: relay, ports: ports))
        }
    }

    /// The RTSP protocol module: its listener when `rtsp.enabled`.
    public static func module(relay: RelayContext, group: any EventLoopGroup) -> ListenerModule {
        let c = relay.config.rtsp.listener
        let listeners = c.enabled ? [ListenerModule.Listener(name: "rtsp", host: c.host, port: c.port) {
            try await bind(host: c.host, port: c.port, group: group, relay: relay)
        }] : []
        return ListenerModule(name: "rtsp", listeners: listeners, logger: relay.logger)
    }
}
