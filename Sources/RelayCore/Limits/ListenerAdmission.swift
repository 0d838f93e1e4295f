import NIOCore

extension RelayContext {
    /// The first lines of every TCP listener's child channel initializer: counts the connection
    /// against `limits.max_connections` / `max_connections_per_ip` (closing it when over) and
    /// puts a `ConnectionGuard` first in its pipeline. False: the connection was refused; set
    /// nothing up.
    ///
    /// `establish: false` for a protocol whose session cannot yet mark itself playing or
    /// publishing (it keeps its own first-request timer); the idle check applies either way.
    public func admitAndGuard(_ channel: any Channel, listener: String, establish: Bool = true) throws -> Bool {
        guard connections.admit(channel, listener: listener) else { return false }
        try guardConnection(channel, listener: listener, establish: establish)
        return true
    }

    /// Only the guard, for connections the server dials itself (GB28181 tcp-active).
    public func guardConnection(_ channel: any Channel, listener: String, establish: Bool = true) throws {
        let policy = ConnectionGuard.Policy(listener: listener, limits: config.limits, establish: establish)
        try channel.pipeline.syncOperations.addHandler(ConnectionGuard(policy: policy, logger: logger))
    }
}

/// For ingest-only protocols (JT/T 1078, GB28181 TCP) whose handlers do not mark themselves:
/// put after the frame decoder, it marks the connection publishing at its first decoded frame
/// (the guard's idle check then ends a publisher that falls silent) and steps aside.
public final class PublishOnFirstFrame: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    public typealias InboundOut = NIOAny

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        ConnectionGuard.mark(.publishing, context)
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
