import Foundation

/// Server configuration (`config.json`). Every key is optional; README lists them all.
public struct RelayConfig: Sendable, Equatable {
    public struct Listener: Sendable, Equatable {
        public var enabled: Bool
        public var host: String
        public var port: Int
    }

    public struct RTMP: Sendable, Equatable {
        public var listener: Listener
        /// Chunk size the server sends with (one for all players, so muxed chunks are shared).
        public var chunkSize: Int
        public var maxMessageSize: Int
        /// Largest chunk size a peer may set (Set Chunk Size); larger closes the connection.
        public var maxChunkSize: Int
        /// How H.265 is written to RTMP/FLV players: "enhanced" (FourCC hvc1) or "legacy" (codec id 12).
        public var hevcMode: String
        public var handshakeTimeoutMs: Int
        /// Acknowledgement window announced to peers.
        public var windowAckSize: Int
        /// Longest command/data/control message (AMF costs far more to decode than to send);
        /// media messages keep `maxMessageSize`.
        public var maxCommandBytes: Int
        /// Longest message of any type before `connect` (unauthenticated peers).
        public var maxBytesBeforeConnect: Int
    }

    public struct HTTPFLV: Sendable, Equatable {
        public var listener: Listener
        public var cors: Bool
        /// A connection whose request head is not complete this long after connecting is closed (slowloris).
        public var requestTimeoutMs: Int
        /// Longest request line + headers; longer is answered 431 and closed.
        public var maxHeaderBytes: Int
    }

    public struct RTSP: Sendable, Equatable {
        public var listener: Listener
        /// UDP players get a server port pair per track from this range (RTP even, RTCP odd).
        public var udpPortMin: Int
        public var udpPortMax: Int
        /// A session without requests or RTCP for this long is closed (a TCP player that is
        /// playing lives as long as its connection).
        public var sessionTimeoutMs: Int
        /// A connection whose first request is not complete this long after connecting is closed (slowloris).
        public var requestTimeoutMs: Int
        /// Longest request line + headers of any request; longer is answered 400 and closed.
        public var maxHeaderBytes: Int
    }

    public struct Source: Sendable, Equatable {
        public var gopCache: Bool
        public var gopCacheMaxBytes: Int
        public var gopCacheMaxMs: Int
        /// Muxed bytes are written to players in segments spanning this much media time (0 = every packet).
        public var mergeWriteMs: Int
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
    public var rtmp: RTMP
    public var httpFLV: HTTPFLV
    public var rtsp: RTSP
    public var source: Source
    public var player: Player
    public var hooks: Hooks
    public var record: Record
    public var gb28181: GB28181
    public var jt1078: JT1078
    public var admin: Admin
    public var limits: Limits

    public static let `default`: RelayConfig = try! RelayConfig(json: [:])

    /// Loads a file; errors name the file and the field.
    public static func load(path: String) throws -> RelayConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(field: "", message: "cannot read config file \(path)")
        }
        return try parse(data)
    }

    public static func parse(_ data: Data) throws -> RelayConfig {
        let object: JSONValue
        do {
            object = try JSONValue.parse(data)
        } catch {
            throw ConfigError(field: "", message: "not valid JSON: \(error)")
        }
        guard case .object(let dict) = object else {
            throw ConfigError(field: "", message: "the top level must be a JSON object")
        }
        return try RelayConfig(json: dict)
    }

    init(json: [String: JSONValue]) throws {
        var root = ConfigReader(json, path: "")
        logLevel = try root.string("log_level", default: "info",
                                   oneOf: ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        eventLoops = try root.int("event_loops", default: 0, in: 0...256)

        var r = try root.object("rtmp")
        rtmp = RTMP(
            listener: try Self.listener(&r, port: 1935),
            chunkSize: try r.int("chunk_size", default: 4096, in: 128...65536),
            maxMessageSize: try r.int("max_message_size", default: 8 << 20, in: 1024...(64 << 20)),
            maxChunkSize: try r.int("max_chunk_size", default: 1 << 20, in: 128...(64 << 20)),
            hevcMode: try r.string("hevc_mode", default: "enhanced", oneOf: ["enhanced", "legacy"]),
            handshakeTimeoutMs: try r.int("handshake_timeout_ms", default: 10_000, in: 100...600_000),
            windowAckSize: try r.int("window_ack_size", default: 2_500_000, in: 4096...Int(Int32.max)),
            maxCommandBytes: try r.int("max_command_bytes", default: 64 << 10, in: 1024...(1 << 20)),
            maxBytesBeforeConnect: try r.int("max_bytes_before_connect", default: 8 << 10, in: 512...(64 << 10)))
        if rtmp.maxBytesBeforeConnect > rtmp.maxCommandBytes {
            throw ConfigError(field: "rtmp.max_bytes_before_connect",
                              message: "must not exceed max_command_bytes (\(rtmp.maxCommandBytes))")
        }
        try r.rejectUnknownKeys()

        var h = try root.object("http_flv")
        httpFLV = HTTPFLV(listener: try Self.listener(&h, port: 8080), cors: try h.bool("cors", default: true),
                          requestTimeoutMs: try h.int("request_timeout_ms", default: 10_000, in: 100...600_000),
                          maxHeaderBytes: try h.int("max_header_bytes", default: 16 << 10, in: 1024...(1 << 20)))
        try h.rejectUnknownKeys()

        var t = try root.object("rtsp")
        rtsp = RTSP(
            listener: try Self.listener(&t, port: 8554),
            udpPortMin: try t.int("udp_port_min", default: 30000, in: 1024...65534),
            udpPortMax: try t.int("udp_port_max", default: 39999, in: 1025...65535),
            sessionTimeoutMs: try t.int("session_timeout_ms", default: 60_000, in: 1000...3_600_000),
            requestTimeoutMs: try t.int("request_timeout_ms", default: 10_000, in: 100...600_000),
            maxHeaderBytes: try t.int("max_header_bytes", default: 16 << 10, in: 1024...(1 << 20)))
        if rtsp.udpPortMax <= rtsp.udpPortMin {
            throw ConfigError(field: "rtsp.udp_port_max",
                              message: "must be above udp_port_min (\(rtsp.udpPortMin)): ports go in RTP/RTCP pairs")
        }
        try t.rejectUnknownKeys()

        var s = try root.object("source")
        source = Source(
            gopCache: try s.bool("gop_cache", default: true),
            gopCacheMaxBytes: try s.int("gop_cache_max_bytes", default: 32 << 20, in: 0...(1 << 30)),
            gopCacheMaxMs: try s.int("gop_cache_max_ms", default: 20_000, in: 0...600_000),
            mergeWriteMs: try s.int("merge_write_ms", default: 0, in: 0...2000),
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

        var rec = try root.object("record")
        record = try Self.record(&rec)
        try rec.rejectUnknownKeys()

        var gb = try root.object("gb28181")
        gb28181 = try Self.gb28181(&gb)
        try gb.rejectUnknownKeys()

        var jt = try root.object("jt1078")
        jt1078 = try Self.jt1078(&jt)
        try jt.rejectUnknownKeys()

        var ad = try root.object("admin")
        admin = try Self.admin(&ad)
        try ad.rejectUnknownKeys()

        var lim = try root.object("limits")
        limits = try Self.limits(&lim)
        try lim.rejectUnknownKeys()

        try root.rejectUnknownKeys()
    }

    private static func listener(_ r: inout ConfigReader, port: Int) throws -> Listener {
        Listener(enabled: try r.bool("enabled", default: true),
                 host: try r.string("host", default: "0.0.0.0"),
                 port: try r.int("port", default: port, in: 0...65535))
    }
}
