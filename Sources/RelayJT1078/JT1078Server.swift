import NIOCore
import NIOPosix
import RelayCore

/// The JT/T 1078 listener: terminals connect and push packages over TCP.
public enum JT1078Server {
    /// `version`: nil detects the layout per connection; otherwise every connection on this port
    /// uses that layout.
    public static func bind(host: String, port: Int, version: JT1078Version?, group: any EventLoopGroup,
                            relay: RelayContext) async throws -> any Channel {
        let maxBody = relay.config.jt1078.maxBodyBytes
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard try relay.admitAndGuard(channel, listener: "jt1078") else { return }
                    let decoder = JT1078FrameDecoder(version: version, maxBodyBytes: maxBody)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(decoder, maximumBufferSize: decoder.maximumBufferSize))
                    try sync.addHandler(PublishOnFirstFrame())
                    try sync.addHandler(JT1078ConnectionHandler(relay: relay, pinned: version))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// The layout of the main port from config ("auto", "2016", "2019").
    public static func version(_ name: String) -> JT1078Version? {
        JT1078Version(name: name)
    }
}
