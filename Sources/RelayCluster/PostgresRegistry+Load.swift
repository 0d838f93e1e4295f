import PostgresNIO
import RelayCore

/// Each node's load in the registry: `<table>_nodes` holds a row per node (its URL, whether it is
/// an edge, its streams and players), `<table>_players` a row per stream and node that serves it.
/// Both are rewritten by the node's heartbeat and read with the same expiry as the stream rows,
/// so a dead node's load disappears with its streams.
extension PostgresRegistry {
    func createLoadTables(_ client: PostgresClient) async throws {
        for statement: PostgresQuery in [
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: nodesTable) (node_id text PRIMARY KEY, url text NOT NULL,
                edge boolean NOT NULL, streams bigint NOT NULL, players bigint NOT NULL, updated_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: playersTable) (stream_id text NOT NULL, node_id text NOT NULL,
                players bigint NOT NULL, updated_at timestamptz NOT NULL, PRIMARY KEY (stream_id, node_id))
            """,
        ] {
            do { try await client.query(statement) } catch let error as PSQLError where Self.madeConcurrently(error) {}
        }
    }

    /// This node's row and its players by stream (streams it no longer serves are deleted).
    func writeLoad(_ client: PostgresClient, players: [String: Int]) async throws {
        let streams = players.keys.sorted()
        let counts = streams.map { players[$0] ?? 0 }
        let total = counts.reduce(0) { $0.addingReportingOverflow($1).partialValue }
        try await client.query("""
            INSERT INTO \(unescaped: nodesTable) (node_id, url, edge, streams, players, updated_at)
            VALUES (\(config.nodeID), \(advertiseURL()), \(config.edge), \(streams.count), \(total), now())
            ON CONFLICT (node_id) DO UPDATE SET url = EXCLUDED.url, edge = EXCLUDED.edge, streams = EXCLUDED.streams,
                players = EXCLUDED.players, updated_at = now()
            """)
        try await client.query("""
            DELETE FROM \(unescaped: playersTable) WHERE node_id = \(config.nodeID) AND NOT (stream_id = ANY(\(streams)::text[]))
            """)
        guard !streams.isEmpty else { return }
        try await client.query("""
            INSERT INTO \(unescaped: playersTable) (stream_id, node_id, players, updated_at)
            SELECT s, \(config.nodeID), p, now() FROM unnest(\(streams)::text[], \(counts)::bigint[]) AS u(s, p)
            ON CONFLICT (stream_id, node_id) DO UPDATE SET players = EXCLUDED.players, updated_at = now()
            """)
    }

    /// Deletes this node's load (at stop).
    func deleteLoad(_ client: PostgresClient) async throws {
        try await client.query("DELETE FROM \(unescaped: playersTable) WHERE node_id = \(config.nodeID)")
        try await client.query("DELETE FROM \(unescaped: nodesTable) WHERE node_id = \(config.nodeID)")
    }

    /// Every live node's load, by node id.
    func readNodes(_ client: PostgresClient) async throws -> [ClusterNodeLoad] {
        var nodes: [ClusterNodeLoad] = []
        for try await (node, url, edge, streams, players, age) in try await client.query("""
            SELECT node_id, url, edge, streams, players, (extract(epoch FROM now() - updated_at) * 1000)::float8
            FROM \(unescaped: nodesTable) WHERE updated_at > now() - \(Int64(config.expiryMs))::bigint * interval '1 millisecond'
            ORDER BY node_id
            """).decode((String, String, Bool, Int64, Int64, Double).self) {
            nodes.append(ClusterNodeLoad(node: node, url: url, edge: edge, streams: Int(clamping: streams),
                                         players: Int(clamping: players), ageMs: Self.milliseconds(age)))
        }
        return nodes
    }

    /// Fresh player counts: stream id → node id → players.
    func playersByStream(_ client: PostgresClient) async throws -> [String: [String: Int]] {
        var found: [String: [String: Int]] = [:]
        for try await (stream, node, players) in try await client.query("""
            SELECT stream_id, node_id, players FROM \(unescaped: playersTable)
            WHERE updated_at > now() - \(Int64(config.expiryMs))::bigint * interval '1 millisecond'
            """).decode((String, String, Int64).self) {
            found[stream, default: [:]][node] = Int(clamping: players)
        }
        return found
    }

    /// Every live node's load, read now (the admin API).
    public func nodes() async throws -> [ClusterNodeLoad] {
        guard let client = upClient else { throw AdminFailure(503, "the cluster registry's database does not answer") }
        return try await withDeadline(ms: config.locateTimeoutMs) { try await self.readNodes(client) }
    }
}
