import NIOCore
import RelayCore

/// The RTMP listener (default port 1935): publishers and players on the same port.
public enum RTMPServer {
    public static func bind(host: String, port: Int, group: any EventLoopGroup, relay: RelayContext) async throws -> any Channel {
        // No establish deadline until RTMPServerHandler marks itself (it has its own publish/play timer).
        var options = RelayListener.Options.players
        options.establish = false
        return try await RelayListener.bind(host: host, port: port, group: group, relay: relay, name: "rtmp",
                                            options: options) { channel in
            try channel.pipeline.syncOperations.addHandler(RTMPServerHandler(relay: relay))
        }
    }

    /// The RTMP protocol module: its listener when `rtmp.enabled`.
    public static func module(relay: RelayContext, group: any EventLoopGroup) -> ListenerModule {
        let c = relay.config.rtmp.listener
        let listeners = c.enabled ? [ListenerModule.Listener(name: "rtmp", host: c.host, port: c.port) {
            try await bind(host: c.host, port: c.port, group: group, relay: relay)
        }] : []
        return ListenerModule(name: "rtmp", listeners: listeners, logger: relay.logger)
    }
}
