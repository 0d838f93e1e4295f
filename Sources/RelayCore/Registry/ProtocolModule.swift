import NIOCore

/// One protocol the server runs (RTMP, GB28181 …), as the server, the admin API and metrics see
/// it: started and stopped by the `ProtocolRegistry`, described by its listeners, summaries and
/// admin endpoints. Adding a protocol means registering one of these; `RelayAdmin` and the
/// metrics code stay as they are.
public protocol ProtocolModule: Sendable {
    /// Its config section and the prefix of its listener names ("rtmp", "gb28181").
    var name: String { get }
    /// The `protocol` labels of its sessions in stats and metrics ("flv" for HTTP-FLV): zero
    /// series exist for these before the first session.
    var sessionProtocols: [String] { get }
    /// Binds what config enables; does nothing when the protocol is disabled.
    func start() async throws
    /// Stops accepting and ends what it owns.
    func stop() async
    /// Bound listeners (`RelayServer.port(_:)`, the on_server_started hook, `GET /api/v1/server`).
    var listeners: [BoundListener] { get }
    /// Ports opened for devices to send to, listed after every listener in `GET /api/v1/server`.
    var receivePorts: [BoundListener] { get }
    /// Members of the `config` object of `GET /api/v1/server` ("gb28181": true).
    var serverConfig: [String: JSONValue] { get }
    /// Top-level members of `GET /api/v1/stats` ("gb28181_receivers": 2).
    var stats: [String: JSONValue] { get }
    /// Gauges of `/metrics`, computed at scrape time.
    var gauges: [ModuleGauge] { get }
    /// Endpoints the admin API serves for it (behind its token, limits and error format).
    var adminEndpoints: [AdminEndpoint] { get }
    /// Routes of another dialect, served on the players' HTTP port and the admin port.
    var httpRoutes: [HTTPRoute] { get }
}

extension ProtocolModule {
    public var sessionProtocols: [String] { [name] }
    public var listeners: [BoundListener] { [] }
    public var receivePorts: [BoundListener] { [] }
    public var serverConfig: [String: JSONValue] { [:] }
    public var stats: [String: JSONValue] { [:] }
    public var gauges: [ModuleGauge] { [] }
    public var adminEndpoints: [AdminEndpoint] { [] }
    public var httpRoutes: [HTTPRoute] { [] }
}

/// A bound port: its name ("rtmp", "jt1078_2019", "gb28181_udp"), transport and address.
public struct BoundListener: Sendable, Equatable {
    public var name: String
    /// "tcp" or "udp".
    public var transport: String
    public var host: String
    public var port: Int

    public init(name: String, transport: String = "tcp", host: String, port: Int) {
        self.name = name
        self.transport = transport
        self.host = host
        self.port = port
    }
}

/// One gauge series of `/metrics`.
public struct ModuleGauge: Sendable {
    public var name: String
    public var help: String
    public var labels: [(String, String)]
    public var value: Double

    public init(name: String, help: String, labels: [(String, String)] = [], value: Double) {
        self.name = name
        self.help = help
        self.labels = labels
        self.value = value
    }
}
