import Logging
import NIOCore
import RelayCore

/// HLS and LL-HLS on the players' HTTP port (`hls` config section): one route for playlists,
/// segments and parts; sessions are players of the core.
public final class HLSModule: ProtocolModule {
    public let name = "hls"
    public var sessionProtocols: [String] { [OutputKind.hlsTS.protocolName, OutputKind.hlsFMP4.protocolName] }
    let service: HLSService

    public convenience init(context: RelayContext, group: any EventLoopGroup) {
        self.init(context: context, group: group, muxers: .standard)
    }

    init(context: RelayContext, group: any EventLoopGroup, muxers: HLSMuxers) {
        service = HLSService(context: context, config: context.config.hls, group: group, muxers: muxers)
    }

    public func start() async throws {}

    public func stop() async {
        await service.endAll()
    }

    public var httpRoutes: [HTTPRoute] { service.config.enabled ? [service.route] : [] }

    public var gauges: [ModuleGauge] {
        [ModuleGauge(name: "relay_hls_sessions", help: "HLS sessions (viewers polling playlists)",
                     value: Double(service.registry.sessionCount))]
    }
}
