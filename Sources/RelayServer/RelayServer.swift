import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayAdmin
import RelayCluster
import RelayCore
import RelayFLV
import RelayGB28181
import RelayHLS
import RelayHooks
import RelayJT1078
import RelayMP4
import RelayPull
import RelayRTMP
import RelayRTSP
import RelayWebRTC
import RelayZLM

/// The whole server: event loops, the stream registry and the protocol modules (one listener
/// or more each), plus the admin API. `relay` runs one; tests start one in-process on port 0.
public final class RelayServer: Sendable {
    /// The config sections of the modules this server links (config.json's top-level keys
    /// besides the core's).
    public static let configSections: [any ConfigSection.Type] = [
        RTMPConfig.self, HTTPFLVConfig.self, RecordConfig.self, RTSPConfig.self, GB28181Config.self, JT1078Config.self,
        AdminConfig.self, ZLMConfig.self, HLSConfig.self, WebRTCConfig.self, PullConfig.self, ClusterConfig.self,
    ]

    public let context: RelayContext
    public let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    /// The protocols, in start order; the admin API and metrics read them here.
    public let protocols: ProtocolRegistry
    /// HTTP hooks (nil when config has no hook URL) and the FLV recorder.
    private let hooks: HTTPEventHooks?
    /// The ZLMediaKit dialect's hooks (nil unless `zlm.enabled`), beside the native ones.
    private let zlmHooks: ZLMHooks?
    private let recorder: FLVFileRecorder
    /// GB28181 receive ports; the admin API opens, lists and closes receivers here.
    public let gb28181: GB28181Service
    /// The admin REST API and /metrics (made by `start` when `admin.enabled`), on a loop of its
    /// own: an operator can look and act while a media loop is busy (a publisher's flood).
    private let admin = NIOLockedValueBox<(server: AdminServer, channel: any Channel)?>(nil)
    private let adminGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// The config file the server was started with (the admin API reloads hooks from it).
    public let configPath: String?
    /// Returns freed heap to the OS after a crowd of players leaves.
    private let trimmer: MemoryTrimmer

    public init(config: RelayConfig, logger: Logger, group: MultiThreadedEventLoopGroup? = nil, configPath: String? = nil) {
        var config = config
        config.includeDefaults(of: Self.configSections)
        self.configPath = configPath
        let hevc = HEVCFLVMode(rawValue: config.rtmp.hevcMode) ?? .enhanced
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            let threads = config.eventLoops > 0 ? config.eventLoops : System.coreCount
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            self.ownsGroup = true
        }
        // With the admin API on, the hook client exists even without URLs, so hooks can be reloaded.
        let hooks = config.hooks.isEmpty && !config.admin.listener.enabled
            ? nil : HTTPEventHooks(config: config.hooks, logger: logger)  // on its own event loop
        let zlmSettings = ZLMSettings(config: config.zlm)
        let zlmHooks = config.zlm.enabled ? ZLMHooks(settings: zlmSettings, native: config.hooks, logger: logger) : nil
        let families: [any EventHooks] = [hooks, zlmHooks?.client].compactMap { $0 }
        let allHooks: (any EventHooks)? = families.count > 1 ? EventHooksChain(families) : families.first
        let recorder = FLVFileRecorder(config: config.record, hevcMode: hevc, hooks: allHooks, logger: logger)
        self.hooks = hooks
        self.zlmHooks = zlmHooks
        self.recorder = recorder
        self.context = RelayContext(config: config, muxers: [
            RTMPMuxer.factory(chunkSize: config.rtmp.chunkSize, hevcMode: hevc, logger: logger),
            FLVMuxer.factory(hevcMode: hevc, logger: logger),
            FLVMuxer.webSocketFactory(hevcMode: hevc, logger: logger),
            FMP4Muxer.factory(logger: logger),
            FMP4Muxer.webSocketFactory(logger: logger),
        ], logger: logger, hooks: allHooks, recorder: recorder, httpStreams: [.flv, .fmp4])
        let gb28181 = GB28181Service(context: context, group: self.group)
        self.gb28181 = gb28181
        // The facade reads the listeners' ports, known once they are bound.
        let ports = NIOLockedValueBox<(@Sendable () -> [String: Int])?>(nil)
        let zlm = ZLMFacade(context: context, gb28181: gb28181, settings: zlmSettings,
                            ports: { ports.withLockedValue { $0 }?() ?? [:] })
        let pulls = PullManager(context: context, group: self.group)
        context.streams.addProvider(pulls)
        let rtmpPort: @Sendable () -> Int? = { ports.withLockedValue { $0 }?()["rtmp"] }
        self.protocols = ProtocolRegistry(Self.modules(context: context, group: self.group, gb28181: gb28181, pulls: pulls,
                                                       rtmpPort: rtmpPort) + [zlm])
        context.httpRoutes.install(protocols.httpRoutes)
        zlmHooks?.dialect.setConfigMap { zlm.serverConfigMap() }
        let connections = context.connections
        self.trimmer = MemoryTrimmer(budget: context.memory) { connections.total }
        ports.withLockedValue { $0 = { [weak self] in self?.ports() ?? [:] } }
    }

    /// The protocol modules in start order.
    /// `rtmpPort`: the bound RTMP port (a cluster node's advertised URL by default).
    static func modules(context: RelayContext, group: any EventLoopGroup, gb28181: GB28181Service,
                        pulls: PullManager, rtmpPort: @escaping @Sendable () -> Int?) -> [any ProtocolModule] {
        [
            RTMPServer.module(relay: context, group: group),
            HTTPFLVServer.module(relay: context, group: group),
            HLSModule(context: context, group: group),
            WebRTCModule(context: context, group: group),
            RTSPServer.module(relay: context, group: group),
            gb28181,
            JT1078Server.module(relay: context, group: group),
            pulls,
            // After the pulls: an edge's provider is asked after the configured on-demand pulls.
            ClusterModule(context: context, pulls: pulls, group: group, rtmpPort: rtmpPort),
        ]
    }

    /// Every admin API route with this server's modules (the test that keeps openapi.yaml true).
    public static var adminRoutes: [AdminAPI.Route] {
        let context = RelayContext(config: .default, muxers: [], logger: Logger(label: "routes"))
        let group = MultiThreadedEventLoopGroup.singleton
        let gb28181 = GB28181Service(context: context, group: group)
        let pulls = PullManager(context: context, group: group)
        return AdminAPI.routes(protocols: ProtocolRegistry(modules(context: context, group: group, gb28181: gb28181, pulls: pulls,
                                                                   rtmpPort: { nil })))
    }

    /// Binds every enabled listener; throws (and unbinds what was bound) if one cannot be bound.
    public func start() async throws {
        do {
            try await protocols.start()
            if context.config.admin.listener.enabled {
                try await startAdmin()
            }
        } catch {
            try? await stop()
            throw error
        }
        trimmer.start(on: group.next())
        let registry = context.registry, connections = context.connections
        zlmHooks?.start { ["MediaSource": .number(Double(registry.sources.count)), "TcpSession": .number(Double(connections.total))] }
        let listening = ports().mapValues { JSONValue.number(Double($0)) }
        context.notify(.started, stream: nil, session: nil, extra: ["ports": .object(listening)])
    }

    /// The port a listener is bound to ("rtmp", "http_flv", "admin"), for port-0 configs.
    public func port(_ listener: String) -> Int? {
        ports()[listener]
    }

    private func startAdmin() async throws {
        let hooks = self.hooks
        let environment = AdminEnvironment(
            context: context, protocols: protocols,
            reloadHooks: hooks.map { hooks in { @Sendable config in hooks.reload(config) } },
            configPath: configPath, configSections: Self.configSections,
            eventLoopThreads: Array(group.makeIterator()).count)
        let server = AdminServer(config: context.config.admin, environment: environment, group: adminGroup,
                                 logger: context.logger)
        let channel = try await server.start()
        admin.withLockedValue { $0 = (server, channel) }
        context.logger.info("admin listening on \(channel.localAddress?.displayString ?? "?")")
    }

    /// Every bound listener's port by name (the protocols' and the admin's).
    public func ports() -> [String: Int] {
        var out: [String: Int] = [:]
        for l in protocols.listeners { out[l.name] = l.port }
        if let port = admin.withLockedValue({ $0?.channel.localAddress?.port }) { out["admin"] = port }
        return out
    }

    /// Stops accepting, ends every source (players get their trailers), then stops the loops.
    public func stop() async throws {
        trimmer.stop()
        if let server = admin.withLockedValue({ s -> AdminServer? in defer { s = nil }; return s?.server }) {
            await server.stop()
        }
        await protocols.stop()
        for source in context.registry.sources {
            await source.close(reason: "server shutting down")
        }
        await recorder.drain()  // files closed, on_record sent
        await hooks?.shutdown()  // hooks in flight answered (bounded), client closed
        await zlmHooks?.stop()
        // Last: the admin's own connections may still be closing on its loop until here.
        try? await adminGroup.shutdownGracefully()
        if ownsGroup { try await group.shutdownGracefully() }
    }
}

extension RelayConfig {
    /// Parses config.json text with every section this server links.
    public static func parse(_ data: Data) throws -> RelayConfig {
        try parse(data, sections: RelayServer.configSections)
    }

    /// Loads a config file with every section this server links; errors name the file and the field.
    public static func load(path: String) throws -> RelayConfig {
        try load(path: path, sections: RelayServer.configSections)
    }
}
