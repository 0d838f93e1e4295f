import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A protocol module whose work is TCP listeners (RTMP, HTTP-FLV, RTSP, JT/T 1078): each bound
/// at start (when config enables it), closed at stop.
public final class ListenerModule: ProtocolModule {
    /// A listener to bind: its name, configured address and the bootstrap that binds it.
    public struct Listener: Sendable {
        public var name: String
        public var host: String
        public var port: Int
        public var bind: @Sendable () async throws -> any Channel

        public init(name: String, host: String, port: Int, bind: @escaping @Sendable () async throws -> any Channel) {
            self.name = name
            self.host = host
            self.port = port
            self.bind = bind
        }
    }

    public let name: String
    public let sessionProtocols: [String]
    public let serverConfig: [String: JSONValue]
    private let planned: [Listener]
    private let logger: Logger
    private let bound = NIOLockedValueBox<[(listener: Listener, channel: any Channel)]>([])

    /// `listeners`: those config enables (none: the module starts nothing).
    public init(name: String, sessionProtocols: [String]? = nil, serverConfig: [String: JSONValue] = [:],
                listeners: [Listener], logger: Logger) {
        self.name = name
        self.sessionProtocols = sessionProtocols ?? [name]
        self.serverConfig = serverConfig
        self.planned = listeners
        self.logger = logger
    }

    public func start() async throws {
        for listener in planned {
            let channel = try await listener.bind()
            bound.withLockedValue { $0.append((listener, channel)) }
            logger.info("\(listener.name) listening on \(channel.localAddress?.displayString ?? "?")")
        }
    }

    /// Closes the listening sockets; connections already accepted go on until their sources end.
    public func stop() async {
        let channels = bound.withLockedValue { b -> [any Channel] in
            defer { b.removeAll() }
            return b.map(\.channel)
        }
        for channel in channels { try? await channel.close() }
    }

    public var listeners: [BoundListener] {
        bound.withLockedValue { b in
            b.map { BoundListener(name: $0.listener.name, host: $0.listener.host, port: $0.channel.localAddress?.port ?? 0) }
        }
    }
}
