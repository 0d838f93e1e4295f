import NIOCore
import RelayCore

/// WebRTC (`webrtc` config section): WHEP viewers and WHIP publishers, signalled over the
/// players' HTTP port, media over one UDP port.
public final class WebRTCModule: ProtocolModule {
    public let name = "webrtc"
    let service: WebRTCService

    public init(context: RelayContext, group: any EventLoopGroup) {
        service = WebRTCService(context: context, config: context.config.webrtc, group: group)
    }

    public func start() async throws { try await service.start() }
    public func stop() async { await service.stop() }

    public var listeners: [BoundListener] {
        guard let port = service.boundPort else { return [] }
        return [BoundListener(name: "webrtc", transport: "udp", host: service.config.listener.host, port: port)]
    }

    public var httpRoutes: [HTTPRoute] { service.config.enabled ? [service.route] : [] }

    public var serverConfig: [String: JSONValue] { ["webrtc": .bool(service.config.enabled)] }

    public var stats: [String: JSONValue] {
        ["webrtc_sessions": .object([
            "players": .number(Double(service.count(.player))),
            "publishers": .number(Double(service.count(.publisher))),
        ])]
    }

    public var gauges: [ModuleGauge] {
        [.player, .publisher].map { role in
            ModuleGauge(name: "relay_webrtc_sessions", help: "WebRTC sessions (WHEP viewers, WHIP publishers), connected or connecting",
                        labels: [("role", role == .player ? "whep" : "whip")], value: Double(service.count(role)))
        }
    }
}
