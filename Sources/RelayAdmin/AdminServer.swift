import Foundation
import Hummingbird
// HTTP1Channel, ServerChildChannel and the HTTP part types: modules of the Hummingbird product.
import HummingbirdCore
import NIOHTTPTypes
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import ServiceLifecycle

/// What the admin API reads and steers, handed over by `RelayServer` (which depends on this
/// module, so the API sees the server through these values and closures).
public struct AdminEnvironment: Sendable {
    public var context: RelayContext
    /// The protocols the server runs: their listeners, summaries, metrics and endpoints.
    public var protocols: ProtocolRegistry
    /// Applies a new `hooks` section without a restart (nil: hooks cannot be reloaded).
    public var reloadHooks: (@Sendable (RelayConfig.Hooks) async throws -> Void)?
    /// The config file the server was started with; `POST /api/v1/hooks/reload` re-reads it.
    public var configPath: String?
    /// The module sections the server's config file has (to re-read and check it whole).
    public var configSections: [any ConfigSection.Type]
    /// Event loop threads of the server.
    public var eventLoopThreads: Int
    public var startedAt: Date

    public init(context: RelayContext, protocols: ProtocolRegistry,
                reloadHooks: (@Sendable (RelayConfig.Hooks) async throws -> Void)?, configPath: String?,
                configSections: [any ConfigSection.Type] = [], eventLoopThreads: Int, startedAt: Date = Date()) {
        self.context = context
        self.protocols = protocols
        self.reloadHooks = reloadHooks
        self.configPath = configPath
        self.configSections = configSections
        self.eventLoopThreads = eventLoopThreads
        self.startedAt = startedAt
    }
}

/// The admin REST API (`/api/v1/…`) and Prometheus `/metrics` on a Hummingbird server of their
/// own (`admin` in config: loopback by default, optional bearer token).
public final class AdminServer: Sendable {
    public let config: AdminConfig
    let api: AdminAPI
    private let group: any EventLoopGroup
    private let logger: Logger
    /// Admin connections: `admin.max_connections` in all, `limits.max_connections_per_ip` per IP.
    let connections: ConnectionLimiter
    private let limits: RelayConfig.Limits

    private struct Running {
        var services: ServiceGroup
        var task: Task<Void, any Error>
    }

    private let running = NIOLockedValueBox<Running?>(nil)

    public init(config: AdminConfig, environment: AdminEnvironment, group: any EventLoopGroup, logger: Logger) {
        AdminMetrics.bootstrapOnce(protocols: environment.protocols.sessionProtocols)
        self.config = config
        self.api = AdminAPI(environment: environment, config: config)
        self.group = group
        self.logger = logger
        let limits = environment.context.config.limits
        self.limits = limits
        self.connections = ConnectionLimiter(
            limits: RelayConfig.Limits(maxConnections: config.maxConnections, maxConnectionsPerIP: limits.maxConnectionsPerIP,
                                       maxStreams: 0),
            logger: logger)
    }

    /// Binds the listener; returns its channel once it accepts connections.
    public func start() async throws -> any Channel {
        let bound = BoundOnce()
        let connections = self.connections
        let policy = ConnectionGuard.Policy(listener: "admin", establishMs: config.requestTimeoutMs, idleMs: limits.idleTimeoutMs,
                                            establishKey: "admin.request_timeout_ms", expecting: "a complete request")
        let logger = self.logger
        let server = HTTPServerBuilder { responder in
            GuardedHTTP1Channel(inner: HTTP1Channel(responder: responder, configuration: .init(
                                    additionalChannelHandlers: [AdminRequestMarker()])),
                                connections: connections, policy: policy, logger: logger)
        }
        let app = Application(
            router: api.router(),
            server: server,
            configuration: .init(address: .hostname(config.listener.host, port: config.listener.port),
                                 serverName: "LiveRelay"),
            onServerRunning: { [api] channel in
                api.setPort(channel.localAddress?.port)
                bound.succeed(channel)
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await services.run()
                bound.fail(AdminServerError.stoppedBeforeListening)
            } catch {
                bound.fail(error)
                throw error
            }
        }
        running.withLockedValue { $0 = Running(services: services, task: task) }
        do {
            return try await bound.value
        } catch {
            await stop()
            throw error
        }
    }

    /// Stops accepting, lets requests in flight finish (they are short) and closes the connections.
    public func stop() async {
        guard let r = running.withLockedValue({ s -> Running? in defer { s = nil }; return s }) else { return }
        await r.services.triggerGracefulShutdown()
        _ = try? await r.task.value
    }
}

enum AdminServerError: Error, CustomStringConvertible {
    case stoppedBeforeListening
    case connectionRefused
    var description: String {
        switch self {
        case .stoppedBeforeListening: return "the admin server stopped before it was listening"
        case .connectionRefused: return "connection refused by the admin connection limits"
        }
    }
}

/// Hummingbird's HTTP/1 child channel behind the admin's connection limits and a
/// `ConnectionGuard` (each request within `admin.request_timeout_ms`; idle connections closed),
/// the same guard every media listener has.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let connections: ConnectionLimiter
    let policy: ConnectionGuard.Policy
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard connections.admit(channel, listener: "admin") else {
            return channel.eventLoop.makeFailedFuture(AdminServerError.connectionRefused)
        }
        let guardian = ConnectionGuard(policy: policy, logger: self.logger)
        let added = channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(guardian, position: .first)
        }
        return added.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Tells the admin connection's guard when a request has fully arrived (the server's time
/// from then on) and when it is answered (a new deadline for the next one).
final class AdminRequestMarker: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { ConnectionGuard.mark(.serving, context) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var last = false
        if case .end = unwrapOutboundIn(data) { last = true }
        context.write(data, promise: promise)
        if last { ConnectionGuard.mark(.answered, context) }
    }
}

/// Resolves once with the bound channel or the error that prevented binding.
private final class BoundOnce: Sendable {
    private let state = NIOLockedValueBox<(result: Result<any Channel, any Error>?, waiter: CheckedContinuation<any Channel, any Error>?)>((nil, nil))

    func succeed(_ channel: any Channel) { resolve(.success(channel)) }
    func fail(_ error: any Error) { resolve(.failure(error)) }

    private func resolve(_ result: Result<any Channel, any Error>) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<any Channel, any Error>? in
            guard s.result == nil else { return nil }
            s.result = result
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: result)
    }

    var value: any Channel {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let done = state.withLockedValue { s -> Result<any Channel, any Error>? in
                    if let r = s.result { return r }
                    s.waiter = continuation
                    return nil
                }
                if let done { continuation.resume(with: done) }
            }
        }
    }
}
