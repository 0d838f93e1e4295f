import Foundation

/// Server configuration (`config.json`). Every key is optional; README lists them all.
///
/// The core holds what every protocol shares: logging and event loops, `source` (the fan-out
/// core), `player` (every output's socket policy), `limits` (every listener and the registry)
/// and `hooks` (the admission contract that `EventHooks` and the admin API's reload use). Each
/// protocol's section is declared and checked by its module (`ConfigSection`) and read through
/// an accessor that module adds (`config.rtmp`).
public struct RelayConfig: Sendable {
    public struct Listener: Sendable, Equatable {
        public var enabled: Bool
        public var host: String
        public var port: Int
    }

    public struct Source: Sendable, Equatable {
        public var gopCache: Bool
        public var gopCacheMaxBytes: Int
        public var gopCacheMaxMs: Int
        /// How long the segments written to players span: adaptive to the player count (the
        /// default), or fixed by `merge_write_ms` (0 = every packet).
        public var mergeWrite: MergeWritePolicy
        /// A source with fewer tracks configured than announced becomes playable after this long.
        public var trackWaitMs: Int
        /// How long a player waits for a stream that is not (yet) published.
        public var playWaitMs: Int
        public var rejectDuplicatePublish: Bool
        /// With `rejectDuplicatePublish` off: may a publisher over another protocol take the id
        /// over (false: only a publisher over the holder's protocol may).
        public var crossProtocolTakeover: Bool
        /// No media for this long: on_receive_timeout, or `receiveTimeoutAction` without that hook (0 = off).
        public var receiveTimeoutMs: Int
        /// "close" or "keep", when no on_receive_timeout hook is configured.
        public var receiveTimeoutAction: String
        /// No players for this long: on_idle_timeout, or `idleTimeoutAction` without that hook (0 = off).
        public var idleTimeoutMs: Int
        /// "close" or "keep", when no on_idle_timeout hook is configured.
        public var idleTimeoutAction: String
        /// A publisher that drops (connection lost, no unpublish) may come back within this long:
        /// its players stay connected and continue (0 = players are ended at once).
        public var publisherGraceMs: Int
        /// A timestamp step larger than this (either way) is a discontinuity: the output clock
        /// continues instead of following it (`MediaClock`).
        public var maxTimestampJumpMs: Int
        /// More discontinuities than this within a minute end the stream (0 = never).
        public var maxTimestampJumpsPerMinute: Int
        /// Bytes one source may hold for players (its GOP cache and every TransStream's cached
        /// segments, as allocated); past it the caches are dropped and new players wait for the
        /// next key frame.
        public var maxMemoryBytes: Int
        /// Packets per second a publisher may send (all tracks); more in any one second closes it
        /// (a flood of tiny frames costs per packet whatever their bytes). 0 = no limit.
        public var maxPacketRate: Int
    }

    public struct Player: Sendable, Equatable {
        public var writeTimeoutMs: Int
        public var maxPendingBytes: Int
        /// "close": drop a player that cannot keep up; "skip": drop its segments until the next key frame.
        public var slowPolicy: String
        public var sendBufferBytes: Int
    }

    public var logLevel: String
    public var eventLoops: Int
    public var source: Source
    public var player: Player
    public var hooks: Hooks
    public var limits: Limits
    /// Module sections by `ConfigSection.key`; an absent one reads as its defaults.
    private var sections: [String: any ConfigSection] = [:]

    /// Only the core sections, every key at its default (module sections read as theirs).
    public static let `default`: RelayConfig = try! RelayConfig(json: [:], sections: [])

    /// A module's section (its defaults when config.json or `sections` left it out).
    public subscript<Section: ConfigSection>(_ type: Section.Type) -> Section {
        get { sections[Section.key] as? Section ?? Section.defaults }
        set { sections[Section.key] = newValue }
    }

    /// Loads a file with the module sections a server links; errors name the file and the field.
    public static func load(path: String, sections: [any ConfigSection.Type]) throws -> RelayConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(field: "", message: "cannot read config file \(path)")
        }
        return try parse(data, sections: sections)
    }

    /// Parses config.json text. A top-level key that is neither a core section nor one of
    /// `sections` is an error ("unknown key").
    public static func parse(_ data: Data, sections: [any ConfigSection.Type]) throws -> RelayConfig {
        let object: JSONValue
        do {
            object = try JSONValue.parse(data)
        } catch {
            throw ConfigError(field: "", message: "not valid JSON: \(error)")
        }
        guard case .object(let dict) = object else {
            throw ConfigError(field: "", message: "the top level must be a JSON object")
        }
        return try RelayConfig(json: dict, sections: sections)
    }

    public init(json: [String: JSONValue], sections types: [any ConfigSection.Type]) throws {
        var root = ConfigReader(json, path: "")
        logLevel = try root.string("log_level", default: "info",
                                   oneOf: ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        eventLoops = try root.int("event_loops", default: 0, in: 0...256)

        var s = try root.object("source")
        source = Source(
            gopCache: try s.bool("gop_cache", default: true),
            gopCacheMaxBytes: try s.int("gop_cache_max_bytes", default: 32 << 20, in: 0...(1 << 30)),
            gopCacheMaxMs: try s.int("gop_cache_max_ms", default: 20_000, in: 0...600_000),
            mergeWrite: try Self.mergeWritePolicy(&s),
            trackWaitMs: try s.int("track_wait_ms", default: 1000, in: 0...60_000),
            playWaitMs: try s.int("play_wait_ms", default: 5000, in: 0...600_000),
            rejectDuplicatePublish: try s.bool("reject_duplicate_publish", default: true),
            crossProtocolTakeover: try s.bool("cross_protocol_takeover", default: false),
            receiveTimeoutMs: try s.int("receive_timeout_ms", default: 15_000, in: 0...3_600_000),
            receiveTimeoutAction: try s.string("receive_timeout_action", default: "close", oneOf: ["close", "keep"]),
            idleTimeoutMs: try s.int("idle_timeout_ms", default: 60_000, in: 0...86_400_000),
            idleTimeoutAction: try s.string("idle_timeout_action", default: "keep", oneOf: ["close", "keep"]),
            publisherGraceMs: try s.int("publisher_grace_ms", default: 3000, in: 0...600_000),
            maxTimestampJumpMs: try s.int("max_timestamp_jump_ms", default: 10_000, in: 100...600_000),
            maxTimestampJumpsPerMinute: try s.int("max_timestamp_jumps_per_minute", default: 100, in: 0...1_000_000),
            maxMemoryBytes: try s.int("max_memory_bytes", default: 128 << 20, in: (1 << 20)...(1 << 34)),
            maxPacketRate: try s.int("max_packet_rate", default: 20_000, in: 0...10_000_000))
        try s.rejectUnknownKeys()

        var p = try root.object("player")
        player = Player(
            writeTimeoutMs: try p.int("write_timeout_ms", default: 10_000, in: 100...600_000),
            maxPendingBytes: try p.int("max_pending_bytes", default: 8 << 20, in: 64 << 10...(1 << 30)),
            slowPolicy: try p.string("slow_policy", default: "close", oneOf: ["close", "skip"]),
            sendBufferBytes: try p.int("send_buffer_bytes", default: 0, in: 0...(64 << 20)))
        try p.rejectUnknownKeys()

        var hk = try root.object("hooks")
        hooks = try Self.hooks(&hk)
        try hk.rejectUnknownKeys()

        var lim = try root.object("limits")
        limits = try Self.limits(&lim)
        try lim.rejectUnknownKeys()

        for type in types {
            try read(type, from: &root)
        }
        try root.rejectUnknownKeys()
    }

    private mutating func read<Section: ConfigSection>(_ type: Section.Type, from root: inout ConfigReader) throws {
        var reader = try root.object(Section.key)
        let section = try Section(reading: &reader)
        try reader.rejectUnknownKeys()
        sections[Section.key] = section
    }

    /// Stores the defaults of every section in `types` that is not stored yet (a server's
    /// config then reads its sections without building defaults on each access).
    public mutating func includeDefaults(of types: [any ConfigSection.Type]) {
        for type in types { includeDefaults(type) }
    }

    private mutating func includeDefaults<Section: ConfigSection>(_ type: Section.Type) {
        if sections[Section.key] == nil { sections[Section.key] = Section.defaults }
    }
}

extension RelayConfig: Equatable {
    /// A section stored in one and absent from the other is equal when it is at its defaults.
    public static func == (a: RelayConfig, b: RelayConfig) -> Bool {
        guard a.logLevel == b.logLevel, a.eventLoops == b.eventLoops, a.source == b.source, a.player == b.player,
              a.hooks == b.hooks, a.limits == b.limits else { return false }
        for key in Set(a.sections.keys).union(b.sections.keys) {
            switch (a.sections[key], b.sections[key]) {
            case let (x?, y?): if !x.isEqual(to: y) { return false }
            case let (x?, nil), let (nil, x?): if !x.isDefault { return false }
            case (nil, nil): break
            }
        }
        return true
    }
}

extension RelayConfig {
    /// `source.merge_write_ms`: `"auto"` (the default: adaptive, with `merge_write_max_ms` and
    /// `merge_write_budget`) or a fixed window in ms (0 = a write per packet).
    static func mergeWritePolicy(_ s: inout ConfigReader) throws -> MergeWritePolicy {
        let maxMs = try s.int("merge_write_max_ms", default: MergeWritePolicy.defaultMaxMs, in: 0...2000)
        let budget = try s.int("merge_write_budget", default: MergeWritePolicy.defaultWritesPerSecond, in: 1...10_000_000)
        switch s.value("merge_write_ms") {
        case nil, .string("auto")?:
            return .adaptive(maxMs: maxMs, writesPerSecond: budget)
        case .number(let n)?:
            guard let ms = Int(exactly: n), (0...2000).contains(ms) else {
                throw s.error("merge_write_ms", "\(n) is out of range 0...2000 (or \"auto\")")
            }
            return .fixed(ms: ms)
        case let other?:
            throw s.error("merge_write_ms", "expected \"auto\" or an integer, got \(other.typeDescription)")
        }
    }
}
