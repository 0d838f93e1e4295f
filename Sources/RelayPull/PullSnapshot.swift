import RelayCore

/// Why a pull cannot be added (the admin API's 409 / 409 / 503 / 400).
public enum PullError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `pull.enabled` is false.
    case disabled
    /// The stream already has a pull, or a publisher here.
    case conflict(String)
    /// `pull.max_pulls` pulls exist.
    case tooMany(Int)
    case invalid(String)

    public var description: String {
        switch self {
        case .disabled: "pulls are disabled (pull.enabled)"
        case .conflict(let text): text
        case .tooMany(let limit): "too many pulls (pull.max_pulls = \(limit))"
        case .invalid(let text): text
        }
    }

    /// The admin API's status for it.
    public var status: Int {
        switch self {
        case .disabled, .conflict: 409
        case .tooMany: 503
        case .invalid: 400
        }
    }
}

/// What `GET /api/v1/pulls` shows of one pull.
public struct PullSnapshot: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// On demand, waiting for a player.
        case idle
        /// An attempt is under way (connect, handshake, play, admission).
        case connecting
        /// Media flows into the local stream.
        case playing
        /// Waiting out the backoff after a failure or an upstream end.
        case retrying
    }

    public var stream: String
    /// Without credentials.
    public var url: String
    public var transport: String
    public var onDemand: Bool
    /// The cluster node the stream comes from (an edge's pull).
    public var origin: String?
    public var state: State
    /// When it entered `state` (ISO 8601).
    public var since: String
    /// Attempts to connect since the pull was added.
    public var attempts: Int
    /// Attempts after a failure or an upstream end.
    public var reconnects: Int
    public var lastError: String?
    /// Over the last few seconds.
    public var bitrateKbps: Double
    public var bytesIn: UInt64
    /// The stream's players on this node.
    public var players: Int

    enum CodingKeys: String, CodingKey {
        case stream, url, transport, state, since, attempts, reconnects, players, origin
        case onDemand = "on_demand"
        case lastError = "last_error"
        case bitrateKbps = "bitrate_kbps"
        case bytesIn = "bytes_in"
    }
}
