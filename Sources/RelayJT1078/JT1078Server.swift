import NIOCore
import RelayCore

/// The JT/T 1078 listener: terminals connect and push packages over TCP.
public enum JT1078Server {
    /// `version`: nil detects the layout per connection; otherwise every connection on this port
    /// uses that layout.
    public static func bind(host: String, port: Int, version: JT1078Version?, group: any EventLoopGroup,
                            relay: RelayContext) async throws -> any Channel {
        let maxBody = relay.config.jt1078.maxBodyBytes
        return try await RelayListener.bind(host: host, port: port, group: group, relay: relay, name: "jt1078",
                                            options: .init(servesPlayers: false, keepAlive: true)) { channel in
            let decoder = JT1078FrameDecoder(version: version, maxBodyBytes: maxBody)
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(ByteToMessageHandler(decoder, maximumBufferSize: decoder.maximumBufferSize))
            try sync.addHandler(PublishOnFirstFrame())
            try sync.addHandler(JT1078ConnectionHandler(relay: relay, pinned: version))
        }
    }

    /// The layout of the main port from config ("auto", "2016", "2019").
    public static func version(_ name: String) -> JT1078Version? {
        JT1078Version(name: name)
    }

    /// The JT/T 1078 protocol module: the main port and the port pinned to 2019 (`port_2019`)
    /// when `jt1078.enabled`.
    public static func module(relay: RelayContext, group: any EventLoopGroup) -> ListenerModule {
        let jt = relay.config.jt1078
        var listeners: [ListenerModule.Listener] = []
        if jt.enabled {
            listeners.append(.init(name: "jt1078", host: jt.host, port: jt.port) {
                try await bind(host: jt.host, port: jt.port, version: version(jt.version), group: group, relay: relay)
            })
            if jt.port2019 > 0 {
                listeners.append(.init(name: "jt1078_2019", host: jt.host, port: jt.port2019) {
                    try await bind(host: jt.host, port: jt.port2019, version: .v2019, group: group, relay: relay)
                })
            }
        }
        return ListenerModule(name: "jt1078", serverConfig: ["jt1078": .bool(jt.enabled)], listeners: listeners,
                              logger: relay.logger)
    }
}
