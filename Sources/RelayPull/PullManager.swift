import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayRTMP
import RelayRTSP

/// The pull proxies of this node: streams brought from an RTSP camera or an RTMP / HTTP-FLV origin
/// (config `pull.pulls`, `POST /api/v1/pulls`, a cluster edge), each a `Pull` on one event loop of
/// `group`. As a `StreamProvider` it starts an on-demand pull when a player asks for its stream.
public final class PullManager: ProtocolModule, StreamProvider {
    public let name = "pull"
    public let context: RelayContext
    let config: PullConfig
    private let group: any EventLoopGroup
    private let logger: Logger
    private let pulls = NIOLockedValueBox<[String: Pull]>([:])
    private let reconnectCount = NIOLockedValueBox<UInt64>(0)
    private let http: PullHTTPClient
    private let connector: UpstreamConnector
    private let random: @Sendable () -> Double

    /// `config`: `context.config.pull`.
    public convenience init(context: RelayContext, group: any EventLoopGroup) {
        let http = PullHTTPClient(group: group)
        self.init(context: context, group: group, http: http, connector: Self.connector(http: http),
                  random: { Double.random(in: 0..<1) })
    }

    /// Tests pass a scripted connector and a fixed jitter.
    init(context: RelayContext, group: any EventLoopGroup, http: PullHTTPClient = PullHTTPClient(group: nil),
         connector: @escaping UpstreamConnector, random: @escaping @Sendable () -> Double) {
        self.context = context
        self.config = context.config.pull
        self.group = group
        self.logger = context.logger
        self.http = http
        self.connector = connector
        self.random = random
    }

    /// The clients of each scheme.
    static func connector(http: PullHTTPClient) -> UpstreamConnector {
        { spec, loop, timeouts, logger, events in
            guard let url = UpstreamURL(spec.url) else {
                return loop.makeFailedFuture(PullError.invalid("bad url"))
            }
            switch url.scheme {
            case .rtmp:
                return RTMPPullClient.connect(url: spec.url, on: loop, timeouts: timeouts, logger: logger, events: events)
                    .assumeIsolated().map { $0 as any Upstream }.nonisolated()
            case .http, .https:
                return HTTPFLVPullClient.connect(url: spec.url, client: http.client(), on: loop, timeouts: timeouts,
                                                 logger: logger, events: events)
                    .assumeIsolated().map { $0 as any Upstream }.nonisolated()
            case .rtsp:
                let transport: RTSPPullTransport = spec.transport == .udp ? .udp : .tcp
                return RTSPPullClient.connect(url: spec.url, transport: transport, on: loop, timeouts: timeouts,
                                              logger: logger, events: events)
                    .assumeIsolated().map { $0 as any Upstream }.nonisolated()
            }
        }
    }

    // MARK: - ProtocolModule

    public func start() async throws {
        guard config.enabled else { return }
        for spec in config.pulls {
            do throws(PullError) {
                try add(spec)
            } catch {
                logger.error("static pull of \(spec.stream) not started: \(error)")
            }
        }
    }

    public func stop() async {
        let all = pulls.withLockedValue { pulls in
            defer { pulls.removeAll() }
            return Array(pulls.values)
        }
        for pull in all { pull.stop(reason: "server stopping") }
        await http.shutdown()
    }

    public var serverConfig: [String: JSONValue] { ["pull": .bool(config.enabled)] }

    public var stats: [String: JSONValue] {
        let all = snapshots
        return ["pulls": .object(["total": .number(Double(all.count)),
                                  "playing": .number(Double(all.filter { $0.state == .playing }.count))])]
    }

    public var gauges: [ModuleGauge] {
        let all = snapshots
        let states: [PullSnapshot.State] = [.idle, .connecting, .playing, .retrying]
        return states.map { state in
            ModuleGauge(name: "relay_pulls", help: "Pull proxies by state", labels: [("state", state.rawValue)],
                        value: Double(all.filter { $0.state == state }.count))
        } + [ModuleGauge(name: "relay_pull_reconnects_total", help: "Pull reconnect attempts since the server started",
                         value: Double(reconnectCount.withLockedValue { $0 }))]
    }

    public var adminEndpoints: [AdminEndpoint] { PullAdmin(manager: self).endpoints }

    // MARK: - Pulls

    /// Adds and starts a pull. Not on demand: it connects now and reconnects forever (backoff
    /// `reconnect_min_ms`..`reconnect_max_ms`, doubling, up to 20 % less at random). On demand: it starts when a
    /// player asks for its stream and stops `on_demand_idle_ms` after the last player left.
    /// `origin`: the cluster node it comes from (its Source's params["cluster_origin"], so a
    /// cluster registry does not announce it). `ephemeral`: removed when it stops for idleness or
    /// when its upstream ends after it played (its players get the end of stream).
    @discardableResult
    public func add(_ spec: PullSpec, origin: String? = nil, ephemeral: Bool = false) throws(PullError) -> PullSnapshot {
        guard config.enabled else { throw .disabled }
        try Self.validate(spec)
        let env = PullEnvironment(context: context, config: config, connect: connector, random: random,
                                  reconnected: { [reconnectCount] in reconnectCount.withLockedValue { $0 &+= 1 } },
                                  removed: { [weak self] pull in self?.dropped(pull) })
        let pull = Pull(spec: spec, origin: origin, ephemeral: ephemeral, loop: group.next(), env: env)
        let refusal: PullError? = pulls.withLockedValue { pulls in
            if pulls[spec.stream] != nil { return .conflict("stream \(spec.stream) already has a pull") }
            if pulls.count >= config.maxPulls { return .tooMany(config.maxPulls) }
            if context.registry.hasLivePublisher(spec.stream) { return .conflict("stream \(spec.stream) is published on this node") }
            pulls[spec.stream] = pull
            return nil
        }
        if let refusal { throw refusal }
        logger.info("pull of \(spec.stream) added from \(UpstreamURL(spec.url)?.redacted ?? "?")\(spec.onDemand ? " (on demand)" : "")")
        pull.start()
        return pull.snapshot
    }

    static func validate(_ spec: PullSpec) throws(PullError) {
        guard isValidStreamID(spec.stream) else {
            throw .invalid("stream must be a valid stream id (APP/STREAM), got '\(printableStreamID(spec.stream))'")
        }
        guard let url = UpstreamURL(spec.url) else {
            throw .invalid("url must be an rtsp://, rtmp://, http:// or https:// URL, got '\(printable(spec.url))'")
        }
        if url.scheme == .rtmp && RTMPURL(spec.url) == nil {
            throw .invalid("an rtmp url needs an app and a stream name: rtmp://host[:port]/app/stream")
        }
    }

    /// Stops the pull of `stream` (its upstream and local stream close). False when there is none.
    public func remove(_ stream: String, reason: String) -> Bool {
        guard let pull = pulls.withLockedValue({ $0.removeValue(forKey: stream) }) else { return false }
        pull.stop(reason: reason)
        return true
    }

    private func dropped(_ pull: Pull) {
        pulls.withLockedValue { pulls in
            if pulls[pull.spec.stream] === pull { pulls[pull.spec.stream] = nil }
        }
    }

    public func snapshot(_ stream: String) -> PullSnapshot? {
        pulls.withLockedValue { $0[stream] }?.snapshot
    }

    public var snapshots: [PullSnapshot] {
        pulls.withLockedValue { Array($0.values) }.map(\.snapshot).sorted { $0.stream < $1.stream }
    }

    // MARK: - StreamProvider

    /// True for a stream this node pulls; an idle on-demand pull starts.
    public func provide(_ id: String, for session: SessionInfo) async -> Bool {
        guard let pull = pulls.withLockedValue({ $0[id] }) else { return false }
        pull.want()
        return true
    }
}

/// The HTTP client of HTTP-FLV pulls, made when the first one starts (none in most servers).
final class PullHTTPClient: Sendable {
    private let group: (any EventLoopGroup)?
    private let made = NIOLockedValueBox<HTTPClient?>(nil)

    init(group: (any EventLoopGroup)?) {
        self.group = group
    }

    func client() -> HTTPClient {
        made.withLockedValue { made in
            if let made { return made }
            var configuration = HTTPClient.Configuration()
            configuration.decompression = .disabled
            let client = HTTPClient(eventLoopGroup: group ?? HTTPClient.defaultEventLoopGroup, configuration: configuration)
            made = client
            return client
        }
    }

    func shutdown() async {
        guard let client = made.withLockedValue({ $0 }) else { return }
        try? await client.shutdown()
    }
}
