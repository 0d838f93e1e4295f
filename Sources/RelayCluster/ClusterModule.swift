import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// Origin/edge clustering (`cluster` section): registers this node's streams where every node
/// can find them (PostgreSQL, or the operator's `on_locate` hook answers), refuses a publish of an
/// id live on another node (`reject_duplicate_publish`), and as an edge pulls a stream it lacks
/// from its origin when a player asks. Off: nothing is registered and the node is a single server.
public final class ClusterModule: ProtocolModule {
    /// On the SessionInfo of an edge's pull: the node it pulls from (its Source is not an origin).
    public static let originParam = "cluster_origin"
    /// In the query of an edge's play request to an origin: the edge's node id.
    public static let edgeParam = "cluster_edge"

    public let name = "cluster"
    public var sessionProtocols: [String] { [] }
    private let context: RelayContext
    private let pulls: any EdgePulls
    private let group: any EventLoopGroup
    private let rtmpPort: @Sendable () -> Int?
    private let config: ClusterConfig
    private let parts = NIOLockedValueBox<(registry: PostgresRegistry?, hook: LocateHook?)>((nil, nil))

    /// `rtmpPort`: the bound RTMP listener's port (the advertised URL when `advertise_url` is empty).
    public init(context: RelayContext, pulls: any EdgePulls, group: any EventLoopGroup,
                rtmpPort: @escaping @Sendable () -> Int?) {
        self.context = context
        self.pulls = pulls
        self.group = group
        self.rtmpPort = rtmpPort
        self.config = context.config.cluster
    }

    /// Where other nodes pull this node's streams from.
    public var advertiseURL: String {
        if !config.advertiseURL.isEmpty { return config.advertiseURL }
        return "rtmp://127.0.0.1:\(rtmpPort() ?? 1935)"
    }

    public func start() async throws {
        guard config.enabled else { return }
        let logger = context.logger
        var registry: PostgresRegistry?
        if config.registry == .postgres {
            let advertised = advertiseURL
            do {
                registry = try PostgresRegistry(config: config, database: try PostgresURL(config.postgresURL), advertiseURL: { advertised },
                                                playerCounts: { [streams = context.registry] in await Self.playerCounts(streams) },
                                                group: group, logger: logger)
            } catch {
                throw ConfigError(field: "cluster.postgres_url", message: error.description)
            }
        }
        let hook = config.locateHook.isEmpty ? nil
            : LocateHook(url: config.locateHook, nodeID: config.nodeID, timeoutMs: config.locateTimeoutMs, group: group, logger: logger)
        parts.withLockedValue { $0 = (registry, hook) }
        let locator = LocatorChain(locators: [registry as (any StreamLocator)?, hook].compactMap { $0 })
        if let registry {
            let pulls = self.pulls
            registry.onStreamEnded { id in
                if pulls.dropOriginPull(id, reason: "its origin reports it ended") {
                    logger.info("cluster edge: \(id) ended on its origin; pull dropped")
                }
            }
            registry.start()
            context.registry.addObserver(registry)
            // Streams claimed before the cluster started (static pulls are not origins).
            for source in context.registry.sources { registry.streamStarted(source) }
            context.streams.addPublishGate(ClusterGate(locator: registry, rejectDuplicates: context.config.source.rejectDuplicatePublish,
                                                       logger: logger))
        }
        if config.edge {
            context.streams.addProvider(EdgeProvider(locator: locator, pulls: pulls, nodeID: config.nodeID, logger: logger))
        }
        logger.info("cluster: node \(config.nodeID) (\(advertiseURL)), registry \(config.registry.rawValue)\(config.edge ? ", edge" : "")")
    }

    /// This node's players by stream (every stream it serves: its own and those it pulls).
    static func playerCounts(_ streams: StreamRegistry) async -> [String: Int] {
        var counts: [String: Int] = [:]
        for source in streams.sources {
            let players = await source.snapshot().players.values.reduce(0) { $0.addingReportingOverflow($1).partialValue }
            counts[source.id] = players
        }
        return counts
    }

    public func stop() async {
        let (registry, hook) = parts.withLockedValue { $0 }
        await registry?.stop()
        await hook?.shutdown()
    }

    public var serverConfig: [String: JSONValue] { ["cluster": .bool(config.enabled)] }

    public var stats: [String: JSONValue] {
        guard config.enabled else { return [:] }
        let registry = parts.withLockedValue { $0.registry }
        return ["cluster": .object([
            "node": .string(config.nodeID),
            "registry": .string(config.registry.rawValue),
            // The hook has no state of its own to be down.
            "registry_up": .bool(registry?.isUp ?? true),
            "streams_registered": .number(Double(registry?.registeredCount ?? 0)),
            "edge_pulls": .number(Double(pulls.originPullCount)),
        ])]
    }

    public var gauges: [ModuleGauge] {
        guard config.enabled else { return [] }
        let registry = parts.withLockedValue { $0.registry }
        return [
            ModuleGauge(name: "relay_cluster_registry_up", help: "1 while the cluster registry's database answers",
                        value: registry?.isUp ?? true ? 1 : 0),
            ModuleGauge(name: "relay_cluster_streams", help: "Streams this node registered as their origin",
                        labels: [("node", "local")], value: Double(registry?.registeredCount ?? 0)),
            ModuleGauge(name: "relay_cluster_edge_pulls", help: "This node's pulls of streams from their origin nodes",
                        value: Double(pulls.originPullCount)),
        ] + (registry?.nodesSeen ?? []).flatMap { node in [
            ModuleGauge(name: "relay_cluster_node_players", help: "Players on each live node of the cluster (its last heartbeat)",
                        labels: [("node", node.node)], value: Double(node.players)),
            ModuleGauge(name: "relay_cluster_node_streams", help: "Streams each live node of the cluster serves (its last heartbeat)",
                        labels: [("node", node.node)], value: Double(node.streams)),
        ] }
    }

    public var adminEndpoints: [AdminEndpoint] {
        [
            AdminEndpoint(.get, "/api/v1/cluster/streams") { _ in AdminReply(try await self.tableRegistry().rows()) },
            AdminEndpoint(.get, "/api/v1/cluster/nodes") { _ in AdminReply(try await self.tableRegistry().nodes()) },
        ]
    }

    /// The PostgreSQL registry, whose tables the admin API lists.
    private func tableRegistry() throws -> PostgresRegistry {
        guard config.enabled else { throw AdminFailure.conflict("the cluster is off (cluster.enabled)") }
        guard let registry = parts.withLockedValue({ $0.registry }) else {
            throw AdminFailure.conflict("the cluster's registry is the on_locate hook: there is no table to list")
        }
        return registry
    }
}
