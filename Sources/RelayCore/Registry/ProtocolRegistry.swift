/// The protocol modules a server runs, in start order: the server starts and stops them here,
/// the admin API and metrics read them here.
public final class ProtocolRegistry: Sendable {
    public let modules: [any ProtocolModule]

    public init(_ modules: [any ProtocolModule]) {
        self.modules = modules
    }

    public func module(named name: String) -> (any ProtocolModule)? {
        modules.first { $0.name == name }
    }

    /// Starts every module in order; when one fails, stops those started (newest first) and throws.
    public func start() async throws {
        for (i, module) in modules.enumerated() {
            do {
                try await module.start()
            } catch {
                for started in modules[...i].reversed() { await started.stop() }
                throw error
            }
        }
    }

    /// Stops every module, newest first.
    public func stop() async {
        for module in modules.reversed() { await module.stop() }
    }

    public var listeners: [BoundListener] { modules.flatMap(\.listeners) }
    public var receivePorts: [BoundListener] { modules.flatMap(\.receivePorts) }
    public var adminEndpoints: [AdminEndpoint] { modules.flatMap(\.adminEndpoints) }
    public var httpRoutes: [HTTPRoute] { modules.flatMap(\.httpRoutes) }
    public var gauges: [ModuleGauge] { modules.flatMap(\.gauges) }
    public var sessionProtocols: [String] { modules.flatMap(\.sessionProtocols) }

    public var serverConfig: [String: JSONValue] {
        modules.reduce(into: [:]) { out, m in out.merge(m.serverConfig) { first, _ in first } }
    }

    public var stats: [String: JSONValue] {
        modules.reduce(into: [:]) { out, m in out.merge(m.stats) { first, _ in first } }
    }
}
