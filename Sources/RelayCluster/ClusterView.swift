/// A stream as the cluster sees it (`GET /api/v1/cluster/streams`): its origin and how many
/// players each node serves it to (an origin's count includes the edges' pulls).
public struct ClusterStream: Sendable, Equatable, Encodable {
    public var stream: String
    public var node: String
    public var url: String
    public var ageMs: Int
    /// Players by node id, from each node's last heartbeat.
    public var players: [String: Int]

    public var playersTotal: Int { players.values.reduce(0) { $0.addingReportingOverflow($1).partialValue } }

    enum CodingKeys: String, CodingKey {
        case stream, node, url, players
        case ageMs = "age_ms"
        case playersTotal = "players_total"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(stream, forKey: .stream)
        try c.encode(node, forKey: .node)
        try c.encode(url, forKey: .url)
        try c.encode(ageMs, forKey: .ageMs)
        try c.encode(players, forKey: .players)
        try c.encode(playersTotal, forKey: .playersTotal)
    }
}

/// A live node of the cluster (`GET /api/v1/cluster/nodes`), as its last heartbeat wrote it.
public struct ClusterNodeLoad: Sendable, Equatable, Codable {
    public var node: String
    /// Where other nodes pull its streams from (`advertise_url`).
    public var url: String
    /// It pulls streams it lacks from their origins.
    public var edge: Bool
    /// Streams it serves: its own and those it pulls from their origins.
    public var streams: Int
    /// Its players over all those streams.
    public var players: Int
    public var ageMs: Int

    enum CodingKeys: String, CodingKey {
        case node, url, edge, streams, players
        case ageMs = "age_ms"
    }
}
