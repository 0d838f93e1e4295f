import RelayCore

/// Tracks in the dialect's shape (`tracks[]` of getMediaList, getMediaInfo, on_stream_changed),
/// made from the core's track summaries (`AVStream.summary`), so both paths agree.
public enum ZLMTracks {
    /// ZLMediaKit's CodecId numbers and names (`src/Extension/Frame.h` CODEC_MAP); GB platforms
    /// read `codec_id` 0 H264, 1 H265, 2 AAC, 3 G711A, 4 G711U.
    static let codecs: [String: (id: Int, name: String)] = [
        "h264": (0, "H264"), "h265": (1, "H265"), "aac": (2, "mpeg4-generic"),
        "g711a": (3, "PCMA"), "g711u": (4, "PCMU"), "opus": (5, "opus"), "mp3": (14, "MP3"),
    ]

    /// One track object: `codec_id`, `codec_id_name`, `codec_type` (0 video, 1 audio), `ready`,
    /// then `width`, `height`, `fps` or `sample_rate`, `channels`, `sample_bit`.
    public static func track(_ summary: JSONValue, fps: Double) -> JSONValue {
        guard case .string(let codec)? = summary["codec"] else { return .object([:]) }
        let known = codecs[codec] ?? (-1, codec)
        let video = summary["kind"] == .string("video")
        var o: [String: JSONValue] = [
            "codec_id": .number(Double(known.id)), "codec_id_name": .string(known.name),
            "codec_type": .number(video ? 0 : 1), "ready": .bool(true),
        ]
        if video {
            o["width"] = summary["width"] ?? .number(0)
            o["height"] = summary["height"] ?? .number(0)
            o["fps"] = .number((fps * 100).rounded() / 100)
        } else {
            o["sample_rate"] = summary["sample_rate"] ?? .number(0)
            o["channels"] = summary["channels"] ?? .number(1)
            o["sample_bit"] = .number(16)
        }
        return .object(o)
    }

    public static func tracks(_ summaries: [JSONValue], fps: Double) -> JSONValue {
        .array(summaries.map { track($0, fps: fps) })
    }

    public static func tracks(_ streams: [AVStream], fps: Double) -> JSONValue {
        tracks(streams.map(\.summary), fps: fps)
    }
}

/// Stream ids in the dialect's terms: `app/stream` ↔ (app, stream); vhost is always
/// `__defaultVhost__` (no virtual hosts here).
public enum ZLMName {
    public static let vhost = "__defaultVhost__"

    /// The app is the first path segment; an id without one has app "" (never made by the facade).
    public static func split(_ id: String) -> (app: String, stream: String) {
        guard let slash = id.firstIndex(of: "/") else { return ("", id) }
        return (String(id[..<slash]), String(id[id.index(after: slash)...]))
    }

    public static func join(app: String, stream: String) -> String {
        app.isEmpty ? stream : "\(app)/\(stream)"
    }

    /// ZLMediaKit's `MediaOriginType` (`src/Common/MediaSource.h`) of an ingest protocol, with
    /// the scheme of its origin URL: 1 rtmp_push, 2 rtsp_push, 3 rtp_push (GB28181, JT/T 1078).
    static func origin(_ protocolName: String) -> (type: Int, name: String, scheme: String) {
        switch protocolName {
        case "rtmp": return (1, "rtmp_push", "rtmp")
        case "rtsp": return (2, "rtsp_push", "rtsp")
        case "gb28181", "jt1078": return (3, "rtp_push", "rtp")
        default: return (0, "unknown", protocolName)
        }
    }

    /// A session's parameters as the dialect's `params` (a query string, keys sorted).
    static func query(_ params: [String: String]) -> String {
        params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }

    /// "ip:port" or "[v6]:port" → parts.
    static func hostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return (String(host), port)
    }
}
