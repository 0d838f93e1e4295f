import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayAdmin
import RelayCore
import RelayFLV
import RelayGB28181
import RelayHooks
import RelayJT1078
import RelayRTMP
import RelayRTSP

/// The whole server: event loops, the registry and one listener per enabled protocol.
/// `relay` runs one; tests start one in-process on port 0.
public final class RelayServer: Sendable {
    public let context: RelayContext
    public let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private let channels = NIOLockedValueBox<[String: any Channel]>([:])
    /// HTTP hooks (nil when config has no hook URL) and the FLV recorder.
    private let hooks: HTTPEventHooks?
    private let recorder: FLVFileRecorder
    /// GB28181 receive ports; the admin API opens, lists and closes receivers here.
    public let gb28181: GB28181Service
    /// The admin REST API and /metrics (made by `start` when `admin.enabled`), on a loop of its
    /// own: an operator can look and act while a media loop is busy (a publisher's flood).
    private let admin = NIOLockedValueBox<AdminServer?>(nil)
    private let adminGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// The config file the server was started with (the admin API reloads hooks from it).
    public let configPath: String?
    /// Returns freed heap to the OS after a crowd of players leaves.
    private let trimmer: MemoryTrimmer

    public init(config: RelayConfig, logger: Logger, group: MultiThreadedEventLoopGroup? = nil, configPath: String? = nil) {
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
        let recorder = FLVFileRecorder(config: config.record, hevcMode: hevc, hooks: hooks, logger: logger)
        self.hooks = hooks
        self.recorder = recorder
        self.context = RelayContext(config: config, muxers: [
            RTMPMuxer.factory(chunkSize: config.rtmp.chunkSize, hevcMode: hevc, logger: logger),
            FLVMuxer.factory(hevcMode: hevc, logger: logger),
        ], logger: logger, hooks: hooks, recorder: recorder)
        self.gb28181 = GB28181Service(context: context, group: self.group)
        let connections = context.connections
        self.trimmer = MemoryTrimmer(budget: context.memory) { connections.total }
    }

    /// Binds every enabled listener; throws (and unbinds what was bound) if one cannot be bound.
    public func start() async throws {
        let config = context.config
        do {
            if config.rtmp.listener.enabled {
                let ch = try await RTMPServer.bind(host: config.rtmp.listener.host, port: config.rtmp.listener.port,
                                                   group: group, relay: context)
                record("rtmp", ch)
            }
            if config.httpFLV.listener.enabled {
                let ch = try await HTTPFLVServer.bind(host: config.httpFLV.listener.host, port: config.httpFLV.listener.port,
                                                      group: group, relay: context)
                record("http_flv", ch)
            }
            if config.rtsp.listener.enabled {
                let ch = try await RTSPServer.bind(host: config.rtsp.listener.host, port: config.rtsp.listener.port,
                                                   group: group, relay: context)
                record("rtsp", ch)
            }
            try await gb28181.start()
            if config.jt1078.enabled {
                let jt = config.jt1078
                let ch = try await JT1078Server.bind(host: jt.host, port: jt.port, version: JT1078Server.version(jt.version),
                                                     group: group, relay: context)
                record("jt1078", ch)
                if jt.port2019 > 0 {
                    let pinned = try await JT1078Server.bind(host: jt.host, port: jt.port2019, version: .v2019,
                                                             group: group, relay: context)
                    record("jt1078_2019", pinned)
                }
            }
            if config.admin.listener.enabled {
                record("admin", try await startAdmin())
            }
        } catch {
            try? await stop()
            throw error
        }
        trimmer.start(on: group.next())
        let listening = channels.withLockedValue { $0.mapValues { JSONValue.number(Double($0.localAddress?.port ?? 0)) } }
        context.notify(.started, stream: nil, session: nil, extra: ["ports": .object(listening)])
    }

    private func record(_ name: String, _ channel: any Channel) {
        channels.withLockedValue { $0[name] = channel }
        context.logger.info("\(name) listening on \(channel.localAddress?.displayString ?? "?")")
    }

    /// The port a listener is bound to ("rtmp", "http_flv"), for port-0 configs.
    public func port(_ listener: String) -> Int? {
        channels.withLockedValue { $0[listener]?.localAddress?.port }
    }

    private func startAdmin() async throws -> any Channel {
        let hooks = self.hooks
        let environment = AdminEnvironment(
            context: context, gb28181: gb28181,
            listeners: { [weak self] in self?.ports() ?? [:] },
            reloadHooks: hooks.map { hooks in { @Sendable config in hooks.reload(config) } },
            configPath: configPath, eventLoopThreads: Array(group.makeIterator()).count)
        let server = AdminServer(config: context.config.admin, environment: environment, group: adminGroup,
                                 logger: context.logger)
        admin.withLockedValue { $0 = server }
        return try await server.start()
    }

    /// Every bound listener's port by name.
    public func ports() -> [String: Int] {
        channels.withLockedValue { $0.compactMapValues { $0.localAddress?.port } }
    }

    /// Stops accepting, ends every source (players get their trailers), then stops the loops.
    public func stop() async throws {
        trimmer.stop()
        if let server = admin.withLockedValue({ s -> AdminServer? in defer { s = nil }; return s }) {
            await server.stop()
        }
        let listeners = channels.withLockedValue { c -> [any Channel] in
            defer { c.removeAll() }
            return Array(c.values)
        }
        for ch in listeners { try? await ch.close() }
        await gb28181.stop()
        for source in context.registry.sources {
            await source.close(reason: "server shutting down")
        }
        await recorder.drain()  // files closed, on_record sent
        await hooks?.shutdown()  // hooks in flight answered (bounded), client closed
        // Last: the admin's own connections may still be closing on its loop until here.
        try? await adminGroup.shutdownGracefully()
        if ownsGroup { try await group.shutdownGracefully() }
    }
}
