import RelayCore

/// `rtmp` section of config.json (README lists every key).
public struct RTMPConfig: ConfigSection {
    public static let key = "rtmp"

    public var listener: RelayConfig.Listener
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

    public init(reading r: inout ConfigReader) throws {
        listener = try r.listener(port: 1935)
        chunkSize = try r.int("chunk_size", default: 4096, in: 128...65536)
        maxMessageSize = try r.int("max_message_size", default: 8 << 20, in: 1024...(64 << 20))
        maxChunkSize = try r.int("max_chunk_size", default: 1 << 20, in: 128...(64 << 20))
        hevcMode = try r.string("hevc_mode", default: "enhanced", oneOf: ["enhanced", "legacy"])
        handshakeTimeoutMs = try r.int("handshake_timeout_ms", default: 10_000, in: 100...600_000)
        windowAckSize = try r.int("window_ack_size", default: 2_500_000, in: 4096...Int(Int32.max))
        maxCommandBytes = try r.int("max_command_bytes", default: 64 << 10, in: 1024...(1 << 20))
        maxBytesBeforeConnect = try r.int("max_bytes_before_connect", default: 8 << 10, in: 512...(64 << 10))
        if maxBytesBeforeConnect > maxCommandBytes {
            throw r.error("max_bytes_before_connect", "must not exceed max_command_bytes (\(maxCommandBytes))")
        }
    }

    public static let defaults = Self.parsedDefaults
}

extension RelayConfig {
    public var rtmp: RTMPConfig {
        get { self[RTMPConfig.self] }
        set { self[RTMPConfig.self] = newValue }
    }
}
