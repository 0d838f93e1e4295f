import RelayCore

/// `cluster` section of config.json (README "Cluster" lists every key): where each stream lives,
/// so a node that lacks a stream a player asks for pulls it from the node that has it.
public struct ClusterConfig: ConfigSection {
    public static let key = "cluster"

    /// How nodes find a stream's origin.
    public enum Registry: String, Sendable, Equatable {
        /// A PostgreSQL table every node writes on publish/unpublish (heartbeat + expiry);
        /// LISTEN/NOTIFY tells edges when a stream ends.
        case postgres
        /// The operator's `on_locate` hook answers each lookup with the origin's URL.
        case hook
    }

    /// Off: the node behaves as a single server (no registry, no edge pulls).
    public var enabled: Bool
    /// This node's name in the registry (unique in the cluster).
    public var nodeID: String
    /// Where other nodes pull this node's streams from (`rtmp://host:port`); empty: the RTMP
    /// listener's address (127.0.0.1 when it listens on every address).
    public var advertiseURL: String
    public var registry: Registry
    /// libpq-style URL of the registry's database (`postgres://user:pass@host:port/db`).
    public var postgresURL: String
    /// The registry's table (made at start when missing), with `<table>_nodes` and
    /// `<table>_players` beside it for the nodes' load; at most 55 characters, so those names fit
    /// PostgreSQL's 63.
    public var postgresTable: String
    /// `on_locate` hook URL (registry "hook"); also asked after the database when set.
    public var locateHook: String
    public var locateTimeoutMs: Int
    /// Each node refreshes its streams this often; a row older than `expiry_ms` is a dead node's.
    public var heartbeatMs: Int
    public var expiryMs: Int
    /// Pull a stream this node lacks from its origin when a player asks (an edge). Off: this node
    /// only registers its own streams (an origin).
    public var edge: Bool

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: false)
        nodeID = try r.string("node_id", default: "")
        advertiseURL = try r.string("advertise_url", default: "")
        registry = Registry(rawValue: try r.string("registry", default: "postgres", oneOf: ["postgres", "hook"])) ?? .postgres
        postgresURL = try r.string("postgres_url", default: "postgres://liverelay@127.0.0.1:5432/liverelay")
        postgresTable = try r.string("postgres_table", default: "liverelay_streams")
        guard postgresTable.count <= 55, postgresTable.first.map({ $0.isLetter || $0 == "_" }) ?? false,
              postgresTable.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw r.error("postgres_table", "must be a plain SQL identifier (letters, digits, _; at most 55), got '\(printable(postgresTable))'")
        }
        locateHook = try r.string("locate_hook", default: "")
        locateTimeoutMs = try r.int("locate_timeout_ms", default: 2000, in: 50...60_000)
        heartbeatMs = try r.int("heartbeat_ms", default: 2000, in: 100...600_000)
        expiryMs = try r.int("expiry_ms", default: 6000, in: 300...3_600_000)
        guard expiryMs > heartbeatMs else {
            throw r.error("expiry_ms", "must be longer than heartbeat_ms (\(heartbeatMs))")
        }
        edge = try r.bool("edge", default: true)
        if enabled {
            guard !nodeID.isEmpty, nodeID.count <= 128, nodeID.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw r.error("node_id", "a cluster node needs a name without spaces (1-128 ASCII characters)")
            }
            if registry == .postgres {
                do { _ = try PostgresURL(postgresURL) } catch { throw r.error("postgres_url", error.description) }
            }
            if registry == .hook && locateHook.isEmpty {
                throw r.error("locate_hook", "registry \"hook\" needs the on_locate URL")
            }
        }
    }

    public static let defaults = Self.parsedDefaults
}

extension RelayConfig {
    public var cluster: ClusterConfig {
        get { self[ClusterConfig.self] }
        set { self[ClusterConfig.self] = newValue }
    }
}
