/// Codec names a user types (`--codec h265`) or a raw elementary stream file's extension implies
/// (.264, .hevc, .alaw …): one list for relay-camera, relay-bench and the JT/T 1078 sender.
extension CodecID {
    /// H.264 for h264/264/avc/jsv, H.265 for h265/265/hevc (any case); nil otherwise.
    public init?(videoName name: String) {
        switch name.lowercased() {
        case "h264", "264", "avc", "jsv": self = .h264
        case "h265", "265", "hevc": self = .h265
        default: return nil
        }
    }

    /// G.711 A-law for g711a/alaw/pcma/al, µ-law for g711u/ulaw/mulaw/pcmu/ul, AAC for aac/adts
    /// (any case); nil otherwise.
    public init?(audioName name: String) {
        switch name.lowercased() {
        case "g711a", "alaw", "pcma", "al": self = .g711a
        case "g711u", "ulaw", "mulaw", "pcmu", "ul": self = .g711u
        case "aac", "adts": self = .aac
        default: return nil
        }
    }

    /// The extension of `path` (after its last dot), for `init?(videoName:)` / `init?(audioName:)`.
    public static func fileExtension(_ path: String) -> String {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return "" }
        return String(path[path.index(after: dot)...])
    }
}
