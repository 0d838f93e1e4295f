import RelayCore

/// `hls` section of config.json (README lists every key): HLS and LL-HLS on the players' HTTP port.
public struct HLSConfig: ConfigSection {
    public static let key = "hls"

    /// Serves `/APP/STREAM.m3u8`; off: those paths answer 404.
    public var enabled: Bool
    /// Target segment duration: a segment is cut at the first video key frame at or after it
    /// (EXT-X-TARGETDURATION is the longest segment, rounded up to whole seconds).
    public var segmentMs: Int
    /// LL-HLS part target on the fMP4 variant (EXT-X-PART-INF PART-TARGET); 0: no parts.
    public var partMs: Int
    /// Segments listed in a playlist (and kept in memory, plus one being fetched).
    public var playlistSegments: Int
    /// An HLS session with no request for this long ends (on_play_done); its segmenter goes with
    /// the stream's last session.
    public var sessionTimeoutMs: Int
    /// `/APP/STREAM.m3u8` without `format` serves fMP4 (CMAF) segments instead of MPEG-TS.
    public var fmp4Default: Bool

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: true)
        segmentMs = try r.int("segment_ms", default: 2000, in: 500...30_000)
        partMs = try r.int("part_ms", default: 250, in: 0...5000)
        playlistSegments = try r.int("playlist_segments", default: 6, in: 3...60)
        sessionTimeoutMs = try r.int("session_timeout_ms", default: 30_000, in: 1000...600_000)
        fmp4Default = try r.bool("fmp4_default", default: false)
        if partMs > 0 && partMs * 2 > segmentMs { throw r.error("part_ms", "must be at most half of segment_ms") }
    }

    public static let defaults = Self.parsedDefaults
}

extension RelayConfig {
    public var hls: HLSConfig {
        get { self[HLSConfig.self] }
        set { self[HLSConfig.self] = newValue }
    }
}
