import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayFLV
import RelayRTMP

/// The whole server: event loops, the registry and one listener per enabled protocol.
/// `relay` runs one; tests start one in-process on port 0.
public final class RelayServer: Sendable {
    public let context: RelayContext
    public let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private let channels = NIOLockedValueBox<[String: any Channel]>([:])

    public init(config: RelayConfig, logger: Logger, group: MultiThreadedEventLoopGroup? = nil) {
        let hevc = HEVCFLVMode(rawValue: config.rtmp.hevcMode) ?? .enhanced
        self.context = RelayContext(config: config, muxers: [
            RTMPMuxer.factory(chunkSize: config.rtmp.chunkSize, hevcMode: hevc),
            FLVMuxer.factory(hevcMode: hevc),
        ], logger: logger)
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            let threads = config.eventLoops > 0 ? config.eventLoops : System.coreCount
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            self.ownsGroup = true
        }
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
        } catch {
            try? await stop()
            throw error
        }
    }

    private func record(_ name: String, _ channel: any Channel) {
        channels.withLockedValue { $0[name] = channel }
        context.logger.info("\(name) listening on \(channel.localAddress?.displayString ?? "?")")
    }

    /// The port a listener is bound to ("rtmp", "http_flv"), for port-0 configs.
    public func port(_ listener: String) -> Int? {
        channels.withLockedValue { $0[listener]?.localAddress?.port }
    }

    /// Stops accepting, ends every source (players get their trailers), then stops the loops.
    public func stop() async throws {
        let listeners = channels.withLockedValue { c -> [any Channel] in
            defer { c.removeAll() }
            return Array(c.values)
        }
        for ch in listeners { try? await ch.close() }
        for source in context.registry.sources {
            await source.close(reason: "server shutting down")
        }
        if ownsGroup { try await group.shutdownGracefully() }
    }
}
