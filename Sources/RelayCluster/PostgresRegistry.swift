import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import RelayCore

/// The cluster's stream table in PostgreSQL: this node's streams are written on claim/release and
/// refreshed every `heartbeat_ms`; a row older than `expiry_ms` is a dead node's and is ignored;
/// `NOTIFY <table>, 'ended <id>'` tells every node's LISTEN that a stream ended. Each heartbeat
/// also writes the node's load: `<table>_nodes` (a row per node) and `<table>_players` (players
/// per stream and node), which the admin API and the metrics show cluster-wide.
///
/// Writes go through one queue, in order, so a heartbeat's snapshot of this node's streams never
/// undoes a newer insert or delete. Everything runs in Tasks on postgres-nio's own I/O: nothing
/// here waits on an event loop. With the database down, lookups answer nil at once (one log line
/// per outage) and the heartbeat keeps trying; when it answers again the heartbeat re-inserts
/// this node's rows (a restarted database lost them).
public final class PostgresRegistry: StreamLocator, StreamObserver {
    enum Write: Sendable {
        case upsert(String)
        case remove(String)
        case heartbeat
    }

    private struct State {
        var client: PostgresClient?
        var tasks: [Task<Void, Never>] = []
        /// The task that runs the write queue (one of `tasks`): stop() waits for it.
        var drain: Task<Void, Never>?
        /// This node's streams (origin streams only) and when each started.
        var local: Set<String> = []
        var up = false
        var outageLogged = false
        var tableReady = false
        /// Rows another node took from this one (logged once each).
        var taken: Set<String> = []
        var stopped = false
        /// The live nodes as the last heartbeat read them (the metrics).
        var nodes: [ClusterNodeLoad] = []
    }

    private let state = NIOLockedValueBox(State())
    private let writes: AsyncStream<Write>
    private let writer: AsyncStream<Write>.Continuation
    let config: ClusterConfig
    let database: PostgresURL
    private let connection: PostgresClient.Configuration
    let table: String
    let nodesTable: String
    let playersTable: String
    let advertiseURL: @Sendable () -> String
    /// This node's players by stream id (read at each heartbeat).
    private let playerCounts: @Sendable () async -> [String: Int]
    let group: any EventLoopGroup
    let logger: Logger
    private let droppedLog = NIOLockedValueBox(RateLimitedLog(interval: .seconds(10)))
    /// Called with the id of every stream another node reports ended (an edge drops its pull).
    private let endedHandler = NIOLockedValueBox<(@Sendable (String) -> Void)?>(nil)
    /// Bound of the write queue (a heartbeat repairs what a full queue dropped).
    static let maxQueuedWrites = 4096

    /// `advertiseURL`: read when a row is written (the RTMP listener's port is known after start).
    /// `playerCounts`: this node's players by stream, read at each heartbeat. Throws when a TLS
    /// file of `database` cannot be read (read here, once).
    public init(config: ClusterConfig, database: PostgresURL, advertiseURL: @escaping @Sendable () -> String,
                playerCounts: @escaping @Sendable () async -> [String: Int] = { [:] },
                group: any EventLoopGroup, logger: Logger) throws(PostgresURL.Invalid) {
        self.config = config
        self.database = database
        self.connection = try database.clientConfiguration()
        // Validated as a plain identifier of at most 55 characters by ClusterConfig; quoted all the same.
        self.table = "\"\(config.postgresTable)\""
        self.nodesTable = "\"\(config.postgresTable)_nodes\""
        self.playersTable = "\"\(config.postgresTable)_players\""
        self.advertiseURL = advertiseURL
        self.playerCounts = playerCounts
        self.group = group
        self.logger = logger
        (writes, writer) = AsyncStream.makeStream(of: Write.self, bufferingPolicy: .bufferingOldest(Self.maxQueuedWrites))
    }

    /// Another node reported `stream` ended.
    public func onStreamEnded(_ handler: @escaping @Sendable (String) -> Void) {
        endedHandler.withLockedValue { $0 = handler }
    }

    public var isUp: Bool { state.withLockedValue { $0.up } }
    public var registeredCount: Int { state.withLockedValue { $0.local.count } }
    /// The client while the database answers.
    var upClient: PostgresClient? { state.withLockedValue { $0.up ? $0.client : nil } }
    /// The live nodes and their load as the last heartbeat read them.
    public var nodesSeen: [ClusterNodeLoad] { state.withLockedValue { $0.nodes } }

    public func start() {
        var options = PostgresClient.Configuration.Options()
        options.connectTimeout = .milliseconds(Int64(config.locateTimeoutMs))
        options.maximumConnections = 8
        options.keepAliveBehavior = nil
        var configuration = connection
        configuration.options = options
        // postgres-nio logs every failed connect at info: an outage is logged once, here.
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let client = PostgresClient(configuration: configuration, eventLoopGroup: group, backgroundLogger: quiet)
        let drain = Task { await self.drainWrites(client) }
        let tasks = [
            Task { await client.run() },
            drain,
            Task { await self.beat() },
            Task { await self.listen(client) },
        ]
        state.withLockedValue {
            $0.client = client
            $0.tasks = tasks
            $0.drain = drain
        }
        logger.info("cluster registry: PostgreSQL \(database.redacted), table \(config.postgresTable), node \(config.nodeID)")
    }

    /// Deletes this node's rows (with their NOTIFY: edges stop pulling at once) and its load, then
    /// stops. The write queue is drained first: a heartbeat still in flight would put the rows
    /// back after their delete.
    public func stop() async {
        let (client, tasks, drain) = state.withLockedValue { s in
            s.stopped = true
            return (s.client, s.tasks, s.drain)
        }
        writer.finish()
        if let drain {  // queued writes are skipped once stopped; the one in flight ends within its deadline
            try? await withDeadline(ms: config.locateTimeoutMs &* 2) { await drain.value }
        }
        if let client, isUp {
            do {
                try await withDeadline(ms: config.locateTimeoutMs) {
                    try await self.deleteRows(client, except: [])
                    try await self.deleteLoad(client)
                }
            } catch {
                logger.warning("cluster registry: could not delete this node's rows at stop: \(Self.describe(error))")
            }
        }
        for task in tasks { task.cancel() }
    }

    // MARK: StreamObserver

    public func streamStarted(_ source: Source) {
        guard source.publisher.params[ClusterModule.originParam] == nil else { return }
        state.withLockedValue {
            $0.local.insert(source.id)
            $0.taken.remove(source.id)
        }
        enqueue(.upsert(source.id))
    }

    public func streamEnded(_ source: Source) {
        guard source.publisher.params[ClusterModule.originParam] == nil else { return }
        let had = state.withLockedValue { $0.local.remove(source.id) != nil }
        if had { enqueue(.remove(source.id)) }
    }

    private func enqueue(_ write: Write) {
        if case .dropped = writer.yield(write) {
            if let more = droppedLog.withLockedValue({ $0.shouldLog() }) {
                logger.warning("cluster registry: \(Self.maxQueuedWrites) writes queued; the next heartbeat repairs the table\(suppressed(more))")
            }
        }
    }

    // MARK: StreamLocator

    /// The row of `stream` when it is fresh and another node's; nil at once while the database is down.
    public func locate(_ stream: String) async -> StreamLocation? {
        guard let client = upClient else { return nil }
        do {
            let row = try await withDeadline(ms: config.locateTimeoutMs) {
                try await self.select(client, stream: stream)
            }
            guard let row, row.node != config.nodeID else { return nil }
            return row
        } catch {
            markDown(error)
            return nil
        }
    }

    /// Every fresh row (the admin API), oldest stream first, with its players on each node.
    public func rows() async throws -> [ClusterStream] {
        guard let client = upClient else { throw AdminFailure(503, "the cluster registry's database does not answer") }
        let query: PostgresQuery = """
            SELECT stream_id, node_id, url, (extract(epoch FROM now() - updated_at) * 1000)::float8 FROM \(unescaped: table)
            WHERE updated_at > now() - \(Int64(config.expiryMs))::bigint * interval '1 millisecond' ORDER BY started_at, stream_id
            """
        return try await withDeadline(ms: config.locateTimeoutMs) {
            let players = try await self.playersByStream(client)
            var found: [ClusterStream] = []
            for try await (stream, node, url, age) in try await client.query(query).decode((String, String, String, Double).self) {
                found.append(ClusterStream(stream: stream, node: node, url: url, ageMs: Self.milliseconds(age),
                                           players: players[stream] ?? [:]))
            }
            return found
        }
    }

    private func select(_ client: PostgresClient, stream: String) async throws -> StreamLocation? {
        let query: PostgresQuery = """
            SELECT node_id, url, (extract(epoch FROM now() - updated_at) * 1000)::float8 FROM \(unescaped: table)
            WHERE stream_id = \(stream) AND updated_at > now() - \(Int64(config.expiryMs))::bigint * interval '1 millisecond'
            """
        for try await (node, url, age) in try await client.query(query).decode((String, String, Double).self) {
            return StreamLocation(stream: stream, node: node, url: url, ageMs: Self.milliseconds(age))
        }
        return nil
    }

    // MARK: writes

    private func drainWrites(_ client: PostgresClient) async {
        for await write in writes {
            let (up, stopped) = state.withLockedValue { ($0.up, $0.stopped) }
            if stopped { continue }  // stop() deletes this node's rows itself
            do {
                switch write {
                case .upsert(let id) where up:
                    try await withDeadline(ms: config.locateTimeoutMs) { try await self.upsert(client, id) }
                case .remove(let id) where up:
                    try await withDeadline(ms: config.locateTimeoutMs) { try await self.remove(client, id) }
                case .upsert, .remove:
                    continue  // the heartbeat that brings the database back repairs the table
                case .heartbeat:
                    let players = await playerCounts()
                    try await withDeadline(ms: config.locateTimeoutMs) { try await self.refresh(client, players: players) }
                    markUp()
                }
            } catch {
                markDown(error)
            }
        }
    }

    private func beat() async {
        enqueue(.heartbeat)
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(config.heartbeatMs))
            if Task.isCancelled { return }
            enqueue(.heartbeat)
        }
    }

    private func upsert(_ client: PostgresClient, _ id: String) async throws {
        let url = advertiseURL()
        try await client.query("""
            INSERT INTO \(unescaped: table) (stream_id, node_id, url, started_at, updated_at)
            VALUES (\(id), \(config.nodeID), \(url), now(), now())
            ON CONFLICT (stream_id) DO UPDATE SET node_id = EXCLUDED.node_id, url = EXCLUDED.url,
                started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at
            """)
    }

    private func remove(_ client: PostgresClient, _ id: String) async throws {
        try await client.query("""
            WITH gone AS (DELETE FROM \(unescaped: table) WHERE stream_id = \(id) AND node_id = \(config.nodeID) RETURNING stream_id)
            SELECT pg_notify(\(config.postgresTable), 'ended ' || stream_id) FROM gone
            """)
    }

    /// Creates the tables when needed, refreshes this node's rows (re-inserting lost ones, taking
    /// back expired ones, leaving ones another live node took), deletes its rows of ended streams,
    /// writes its load and reads every node's.
    private func refresh(_ client: PostgresClient, players: [String: Int]) async throws {
        if !state.withLockedValue({ $0.tableReady }) {
            do {
                try await client.query("""
                    CREATE TABLE IF NOT EXISTS \(unescaped: table) (stream_id text PRIMARY KEY, node_id text NOT NULL,
                        url text NOT NULL, started_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)
                    """)
            } catch let error as PSQLError where Self.madeConcurrently(error) {
                // Another node made it at the same moment (IF NOT EXISTS does not serialize creators).
            }
            try await createLoadTables(client)
            state.withLockedValue { $0.tableReady = true }
        }
        let ids = Array(state.withLockedValue { $0.local }).sorted()
        if !ids.isEmpty {
            let url = advertiseURL()
            try await client.query("""
                INSERT INTO \(unescaped: table) AS t (stream_id, node_id, url, started_at, updated_at)
                SELECT s, \(config.nodeID), \(url), now(), now() FROM unnest(\(ids)::text[]) AS s
                ON CONFLICT (stream_id) DO UPDATE SET updated_at = now(), url = EXCLUDED.url
                WHERE t.node_id = EXCLUDED.node_id
                   OR t.updated_at <= now() - \(Int64(config.expiryMs))::bigint * interval '1 millisecond'
                """)
            var takers: [(String, String)] = []
            for try await (stream, node) in try await client.query("""
                SELECT stream_id, node_id FROM \(unescaped: table) WHERE stream_id = ANY(\(ids)::text[]) AND node_id <> \(config.nodeID)
                """).decode((String, String).self) {
                takers.append((stream, node))
            }
            let fresh = state.withLockedValue { s in takers.filter { s.taken.insert($0.0).inserted } }
            for (stream, node) in fresh {
                logger.warning("cluster registry: node \(node) took \(stream)'s row (a publish there); this node's publisher stays but is no longer located")
            }
        }
        try await deleteRows(client, except: ids)
        try await writeLoad(client, players: players)
        let nodes = try await readNodes(client)
        state.withLockedValue { $0.nodes = nodes }
    }

    /// Deletes this node's rows but `ids`, with a NOTIFY for each.
    private func deleteRows(_ client: PostgresClient, except ids: [String]) async throws {
        try await client.query("""
            WITH gone AS (DELETE FROM \(unescaped: table) WHERE node_id = \(config.nodeID) AND NOT (stream_id = ANY(\(ids)::text[]))
                RETURNING stream_id)
            SELECT pg_notify(\(config.postgresTable), 'ended ' || stream_id) FROM gone
            """)
    }

    // MARK: LISTEN

    private func listen(_ client: PostgresClient) async {
        let channel = config.postgresTable
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        for try await note in notifications {
                            guard note.payload.hasPrefix("ended ") else { continue }
                            let stream = String(note.payload.dropFirst(6))
                            self.endedHandler.withLockedValue { $0 }?(stream)
                        }
                    }
                }
            } catch {
                if !Task.isCancelled { logger.debug("cluster registry: LISTEN ended: \(Self.describe(error))") }
            }
            try? await Task.sleep(for: .milliseconds(config.heartbeatMs))
        }
    }

    // MARK: health

    private func markUp() {
        let recovered = state.withLockedValue { s -> Bool in
            defer {
                s.up = true
                s.outageLogged = false
            }
            return s.outageLogged
        }
        if recovered { logger.info("cluster registry: the database answers again; this node's rows are refreshed") }
    }

    private func markDown(_ error: any Error) {
        let first = state.withLockedValue { s -> Bool in
            s.up = false
            s.tableReady = false
            defer { s.outageLogged = true }
            return !s.outageLogged && !s.stopped
        }
        guard first else { return }
        // The pool retries connects by itself and a query only sees its deadline pass: one
        // connection of our own says why (refused, TLS not offered, an unknown CA, a password).
        let seen = Self.describe(error)
        Task {
            let why = await self.diagnosis() ?? seen
            self.logger.error("cluster registry: the database at \(self.database.redacted) fails (\(why)); lookups answer 'not found' and streams keep flowing until it is back")
        }
    }
}
