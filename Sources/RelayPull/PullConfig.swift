import RelayCore

/// `pull` section of config.json (README lists every key): pull proxies that bring a stream from
/// an RTSP camera or an RTMP / HTTP-FLV origin into a local stream, started at boot (`pulls`),
/// through `POST /api/v1/pulls`, or by a cluster edge for its players.
public struct PullConfig: ConfigSection {
    public static let key = "pull"

    /// Off: no pull starts, `/api/v1/pulls` answers 409.
    public var enabled: Bool
    /// The first reconnect waits this long; each failure doubles it (with jitter) up to the max.
    public var reconnectMinMs: Int
    public var reconnectMaxMs: Int
    /// Connecting, the upstream's handshake and its answer to play must finish within this long.
    public var connectTimeoutMs: Int
    /// No media from the upstream for this long: the attempt fails and the pull reconnects.
    public var receiveTimeoutMs: Int
    /// An on-demand pull stops when its stream has had no player for this long.
    public var onDemandIdleMs: Int
    /// Pulls at once (static, API and cluster); past it `POST /api/v1/pulls` answers 503.
    public var maxPulls: Int
    /// Started at boot, like `POST /api/v1/pulls` bodies.
    public var pulls: [PullSpec]

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: true)
        reconnectMinMs = try r.int("reconnect_min_ms", default: 500, in: 50...600_000)
        reconnectMaxMs = try r.int("reconnect_max_ms", default: 30_000, in: 50...3_600_000)
        guard reconnectMaxMs >= reconnectMinMs else {
            throw r.error("reconnect_max_ms", "must be at least reconnect_min_ms (\(reconnectMinMs))")
        }
        connectTimeoutMs = try r.int("connect_timeout_ms", default: 10_000, in: 100...120_000)
        receiveTimeoutMs = try r.int("receive_timeout_ms", default: 10_000, in: 500...600_000)
        onDemandIdleMs = try r.int("on_demand_idle_ms", default: 10_000, in: 0...86_400_000)
        maxPulls = try r.int("max_pulls", default: 1000, in: 1...100_000)
        pulls = []
        guard let raw = r.value("pulls") else { return }
        guard case .array(let items) = raw else {
            throw r.error("pulls", "expected an array of objects, got \(raw.typeDescription)")
        }
        for (i, item) in items.enumerated() {
            guard case .object(let fields) = item else {
                throw r.error("pulls[\(i)]", "expected an object, got \(item.typeDescription)")
            }
            var reader = r.nested("pulls[\(i)]", fields)
            pulls.append(try PullSpec(reading: &reader))
            try reader.rejectUnknownKeys()
        }
    }

    public static let defaults = Self.parsedDefaults
}

/// One pull: which local stream, from where, and when.
public struct PullSpec: Sendable, Equatable {
    /// How RTSP media travels (RTMP and HTTP-FLV are always TCP).
    public enum Transport: String, Sendable, Equatable {
        case tcp, udp
    }

    /// The local stream id ("APP/STREAM").
    public var stream: String
    /// `rtsp://[user:pass@]host[:port]/path`, `rtmp://host[:port]/app/stream` or
    /// `http(s)://host[:port]/path.flv`.
    public var url: String
    public var transport: Transport
    /// Pulled only while the stream has players: started by the first, stopped `on_demand_idle_ms`
    /// after the last left.
    public var onDemand: Bool

    public init(stream: String, url: String, transport: Transport = .tcp, onDemand: Bool = false) {
        self.stream = stream
        self.url = url
        self.transport = transport
        self.onDemand = onDemand
    }

    /// Reads `stream`, `url`, `transport` and `on_demand` (a config entry or an API body).
    public init(reading r: inout ConfigReader) throws {
        stream = try r.string("stream", default: "")
        guard isValidStreamID(stream) else { throw r.error("stream", "must be a valid stream id (APP/STREAM), got '\(printableStreamID(stream))'") }
        url = try r.string("url", default: "")
        guard UpstreamURL(url) != nil else { throw r.error("url", "must be an rtsp://, rtmp://, http:// or https:// URL, got '\(printable(url))'") }
        transport = Transport(rawValue: try r.string("transport", default: "tcp", oneOf: ["tcp", "udp"])) ?? .tcp
        onDemand = try r.bool("on_demand", default: false)
    }
}

extension RelayConfig {
    public var pull: PullConfig {
        get { self[PullConfig.self] }
        set { self[PullConfig.self] = newValue }
    }
}
