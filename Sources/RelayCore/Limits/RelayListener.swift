import NIOCore
import NIOPosix

/// The one TCP listener bootstrap of every protocol: socket options, `limits.max_connections`
/// and `max_connections_per_ip` (an over-limit connection is closed at once), the
/// `ConnectionGuard` (establish deadline, idle check) first in each pipeline, then the
/// protocol's handlers. Closing the returned channel stops accepting; accepted connections
/// go on until they or their sources end.
public enum RelayListener {
    /// How a listener's sockets are set up beyond what every listener gets (SO_REUSEADDR).
    public struct Options: Sendable {
        /// Serves players: TCP_NODELAY, the player write-buffer watermarks and
        /// `player.send_buffer_bytes` (`PlayerSocket`).
        public var servesPlayers: Bool
        /// False for a protocol whose session cannot mark itself playing or publishing before
        /// its own first-request timer (RTMP's handshake timer); the idle check applies either way.
        public var establish: Bool
        public var backlog: Int32
        public var keepAlive: Bool
        public var receiveBufferBytes: Int?

        public init(servesPlayers: Bool, establish: Bool = true, backlog: Int32 = 1024, keepAlive: Bool = false,
                    receiveBufferBytes: Int? = nil) {
            self.servesPlayers = servesPlayers
            self.establish = establish
            self.backlog = backlog
            self.keepAlive = keepAlive
            self.receiveBufferBytes = receiveBufferBytes
        }

        /// Players and publishers on one port (RTMP, HTTP-FLV, RTSP).
        public static let players = Options(servesPlayers: true)
    }

    /// Binds `host:port`; `name` labels the listener in limits, guard log lines and metrics.
    /// `pipeline` adds the protocol's handlers on the connection's event loop, after the guard.
    public static func bind(host: String, port: Int, group: any EventLoopGroup, relay: RelayContext, name: String,
                            options: Options,
                            pipeline: @escaping @Sendable (any Channel) throws -> Void) async throws -> any Channel {
        let player = relay.config.player
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: options.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if options.servesPlayers {
            bootstrap = bootstrap
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: PlayerSocket.waterMark(player))
        }
        if options.keepAlive {
            bootstrap = bootstrap.childChannelOption(.socketOption(.so_keepalive), value: 1)
        }
        if let bytes = options.receiveBufferBytes {
            bootstrap = bootstrap.childChannelOption(.socketOption(.so_rcvbuf), value: bytes)
        }
        return try await bootstrap
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard try relay.admitAndGuard(channel, listener: name, establish: options.establish) else { return }
                    if options.servesPlayers { PlayerSocket.applySendBuffer(player, to: channel) }
                    try pipeline(channel)
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}
