import Foundation
import RelayCore

// What the admin API answers; openapi.yaml (repo root) describes each of these as a schema of the
// same name, and AdminSpecTests keeps the two in step.

struct ErrorBody: Encodable {
    var error: String
    var status: Int
}

struct ServerInfo: Encodable {
    struct Build: Encodable {
        var configuration: String
        var os: String
        var arch: String
    }

    struct Listener: Encodable {
        var name: String
        var transport: String
        var host: String
        var port: Int
    }

    struct ConfigSummary: Encodable {
        var logLevel: String
        var eventLoops: Int
        var gopCache: Bool
        /// `"auto"` or the fixed window in ms.
        var mergeWriteMs: JSONValue
        var slowPolicy: String
        var maxPendingBytes: Int
        var hooks: [String]
        var adminToken: Bool
        var configFile: String?
        /// The protocol modules' members ("record", "gb28181", "jt1078": whether enabled).
        var protocols: [String: JSONValue]

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encodeMembers(protocols)
            try c.encode(logLevel, forKey: "log_level")
            try c.encode(eventLoops, forKey: "event_loops")
            try c.encode(gopCache, forKey: "gop_cache")
            try c.encode(mergeWriteMs, forKey: "merge_write_ms")
            try c.encode(slowPolicy, forKey: "slow_policy")
            try c.encode(maxPendingBytes, forKey: "max_pending_bytes")
            try c.encode(hooks, forKey: "hooks")
            try c.encode(adminToken, forKey: "admin_token")
            try c.encodeIfPresent(configFile, forKey: "config_file")
        }
    }

    var name: String
    var version: String
    var build: Build
    var pid: Int
    var startedAt: String
    var uptimeSeconds: Double
    var listeners: [Listener]
    var config: ConfigSummary

    enum CodingKeys: String, CodingKey {
        case name, version, build, pid, startedAt = "started_at", uptimeSeconds = "uptime_seconds", listeners, config
    }
}

struct ByProtocol: Encodable {
    var total: UInt64
    var byProtocol: [String: UInt64]

    enum CodingKeys: String, CodingKey { case total, byProtocol = "by_protocol" }
}

struct Stats: Encodable {
    struct Connections: Encodable {
        var total: Int
        var publishers: Int
        var players: Int
        var byProtocol: [String: Int]

        enum CodingKeys: String, CodingKey { case total, publishers, players, byProtocol = "by_protocol" }
    }

    struct Process: Encodable {
        var cpuSeconds: Double
        var rssBytes: Int
        var peakRSSBytes: Int
        var threads: Int

        enum CodingKeys: String, CodingKey {
            case cpuSeconds = "cpu_seconds", rssBytes = "rss_bytes", peakRSSBytes = "peak_rss_bytes", threads
        }
    }

    var uptimeSeconds: Double
    var streams: Int
    var players: Int
    var connections: Connections
    var bytesIn: ByProtocol
    var bytesOut: ByProtocol
    var process: Process
    /// The protocol modules' members ("gb28181_receivers").
    var protocols: [String: JSONValue]

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encodeMembers(protocols)
        try c.encode(uptimeSeconds, forKey: "uptime_seconds")
        try c.encode(streams, forKey: "streams")
        try c.encode(players, forKey: "players")
        try c.encode(connections, forKey: "connections")
        try c.encode(bytesIn, forKey: "bytes_in")
        try c.encode(bytesOut, forKey: "bytes_out")
        try c.encode(process, forKey: "process")
    }
}

/// A key spelled at run time (members that protocol modules add to an answer).
struct AnyKey: CodingKey, ExpressibleByStringLiteral {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
    init(stringLiteral value: String) { stringValue = value }
}

extension KeyedEncodingContainer<AnyKey> {
    /// Adds protocol modules' members. Called first: an answer's own member of the same name,
    /// encoded after, replaces it.
    mutating func encodeMembers(_ members: [String: JSONValue]) throws {
        for (key, value) in members {
            try encode(value, forKey: AnyKey(stringValue: key))
        }
    }
}

struct TrackInfo: Encodable {
    var index: Int
    var kind: String
    var codec: String
    var width: Int?
    var height: Int?
    var fps: Double?
    var gopFrames: Int?
    var profile: Int?
    var level: Int?
    var sampleRate: Int?
    var channels: Int?

    enum CodingKeys: String, CodingKey {
        case index, kind, codec, width, height, fps, gopFrames = "gop_frames", profile, level
        case sampleRate = "sample_rate", channels
    }
}

struct PublisherInfo: Encodable {
    var `protocol`: String
    var address: String
    var sessionID: String

    enum CodingKeys: String, CodingKey { case `protocol`, address, sessionID = "session_id" }
}

struct PlayerCounts: Encodable {
    var total: Int
    var byProtocol: [String: Int]

    enum CodingKeys: String, CodingKey { case total, byProtocol = "by_protocol" }
}

struct StreamInfo: Encodable {
    var id: String
    var ready: Bool
    var recording: Bool
    var uptimeSeconds: Double
    var publisher: PublisherInfo
    var tracks: [TrackInfo]
    var bitrateInBps: Double
    var bitrateOutBps: Double
    var bytesIn: UInt64
    var packetsIn: UInt64
    var bytesOut: UInt64
    var players: PlayerCounts
    var outputs: [OutputInfo]

    enum CodingKeys: String, CodingKey {
        case id, ready, recording, uptimeSeconds = "uptime_seconds", publisher, tracks
        case bitrateInBps = "bitrate_in_bps", bitrateOutBps = "bitrate_out_bps", bytesIn = "bytes_in"
        case packetsIn = "packets_in", bytesOut = "bytes_out", players, outputs
    }
}

/// One output of a stream (a TransStream): its sinks and its merge window now.
struct OutputInfo: Encodable {
    var output: String
    var sinks: Int
    var mergeWindowMs: Int

    enum CodingKeys: String, CodingKey {
        case output, sinks, mergeWindowMs = "merge_window_ms"
    }
}

struct StreamList: Encodable {
    var count: Int
    var streams: [StreamInfo]
}

struct StreamClosed: Encodable {
    var stream: String
    var closed: Bool
}

struct PlayerInfo: Encodable {
    var id: UInt64
    var stream: String
    var `protocol`: String
    var kind: String
    var address: String?
    var sessionID: String?
    var bytesSent: UInt64
    var pendingBytes: Int
    var segmentsDropped: UInt64
    var seconds: Double
    var since: String

    enum CodingKeys: String, CodingKey {
        case id, stream, `protocol`, kind, address, sessionID = "session_id", bytesSent = "bytes_sent"
        case pendingBytes = "pending_bytes", segmentsDropped = "segments_dropped", seconds, since
    }
}

struct PlayerList: Encodable {
    var count: Int
    var players: [PlayerInfo]
}

struct PlayerKicked: Encodable {
    var id: UInt64
    var stream: String
    var kicked: Bool
}

struct HooksReloaded: Encodable {
    var reloaded: Bool
    var source: String
    var hooks: [String]
}


/// JSON cannot carry NaN or infinities: such a figure is reported as 0.
func finite(_ x: Double) -> Double { x.isFinite ? x : 0 }
