import RelayCore

/// `record` section of config.json (README lists every key): FLV recording, RelayFLV's output.
public struct RecordConfig: ConfigSection {
    public static let key = "record"

    /// Records every stream matching `streams` (all when empty). Off: only streams whose
    /// on_publish answer says `{"record": true}` are recorded.
    public var enabled: Bool
    /// Files go to `<dir>/<stream id>/<UTC start time>.flv`.
    public var dir: String
    /// Stream id patterns; `*` matches any run of characters (including `/`).
    public var streams: [String]
    /// A new file starts at the first key frame after this much media time (0: one file per publish).
    public var segmentMs: Int
    /// Bytes waiting for the disk per recording; beyond it media is dropped up to the next key frame.
    public var maxPendingBytes: Int

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: false)
        dir = try r.string("dir", default: "recordings")
        streams = try r.stringArray("streams", default: [])
        segmentMs = try r.int("segment_ms", default: 1_800_000, in: 0...86_400_000)
        maxPendingBytes = try r.int("max_pending_bytes", default: 32 << 20, in: (1 << 20)...(1 << 30))
        if dir.isEmpty { throw r.error("dir", "must not be empty") }
    }

    public static let defaults = Self.parsedDefaults

    /// Whether config alone turns recording on for `stream`.
    public func matches(_ stream: String) -> Bool {
        enabled && (streams.isEmpty || streams.contains { globMatch($0[...], stream[...]) })
    }
}

extension RelayConfig {
    public var record: RecordConfig {
        get { self[RecordConfig.self] }
        set { self[RecordConfig.self] = newValue }
    }
}

/// `*` matches any run of characters; everything else matches itself.
func globMatch(_ pattern: Substring, _ text: Substring) -> Bool {
    guard let star = pattern.firstIndex(of: "*") else { return pattern == text }
    let head = pattern[..<star]
    guard text.hasPrefix(head) else { return false }
    let restPattern = pattern[pattern.index(after: star)...]
    var rest = text.dropFirst(head.count)
    while true {
        if globMatch(restPattern, rest) { return true }
        if rest.isEmpty { return false }
        rest = rest.dropFirst()
    }
}
