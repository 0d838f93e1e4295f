import RelayCore

/// `webrtc` section of config.json (README lists every key): WHEP play and WHIP publish on the
/// players' HTTP port, media on one UDP port shared by every session (ICE-lite).
public struct WebRTCConfig: ConfigSection {
    public static let key = "webrtc"

    /// Serves `/APP/STREAM/whep` and `/whip`; off: those paths answer 404 and no UDP port opens.
    public var enabled: Bool
    /// The UDP port of every session's media (STUN, DTLS, SRTP); 0 picks one.
    public var listener: RelayConfig.Listener
    /// Addresses offered as host candidates; empty: the listener's host, or every IPv4 address
    /// of the machine when it listens on all of them.
    public var candidates: [String]
    /// ICE and the DTLS handshake must complete within this long of the answer.
    public var connectTimeoutMs: Int
    /// A session that sends no STUN consent check for this long is closed (RFC 7675 says 30 s).
    public var consentTimeoutMs: Int
    /// Sessions open at once (players and publishers); past it, offers are answered 503.
    public var maxSessions: Int
    /// Packets a viewer keeps for NACK retransmission (about 1 s of a 4 Mb/s stream).
    public var nackHistoryPackets: Int
    /// WHIP: a key frame is asked of the browser (PLI) this often, so the GOP cache stays short
    /// and a new viewer starts at once; 0: only when a viewer asks.
    public var whipKeyFrameIntervalMs: Int
    /// WHIP: the bitrate the browser is told it may send (REMB).
    public var whipMaxBitrate: Int

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: true)
        listener = try r.listener(port: 8189)
        candidates = try r.stringArray("candidates", default: [])
        connectTimeoutMs = try r.int("connect_timeout_ms", default: 10_000, in: 500...120_000)
        consentTimeoutMs = try r.int("consent_timeout_ms", default: 30_000, in: 1000...600_000)
        maxSessions = try r.int("max_sessions", default: 1000, in: 1...100_000)
        nackHistoryPackets = try r.int("nack_history_packets", default: 1024, in: 64...16384)
        whipKeyFrameIntervalMs = try r.int("whip_keyframe_interval_ms", default: 2000, in: 0...60_000)
        whipMaxBitrate = try r.int("whip_max_bitrate", default: 4_000_000, in: 100_000...100_000_000)
    }

    public static let defaults = Self.parsedDefaults
}

extension RelayConfig {
    public var webrtc: WebRTCConfig {
        get { self[WebRTCConfig.self] }
        set { self[WebRTCConfig.self] = newValue }
    }
}
