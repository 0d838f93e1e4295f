import RelayCore

/// rtmp://host[:port]/app/stream[?query] as ffmpeg, OBS and servers split it: the app is the first
/// path segment, the stream name the rest with its query (what `publish` / `play` carries). The
/// pull client plays one; the camera and relay-bench publish to one.
public struct RTMPURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var app: String
    public var streamName: String

    public init(host: String, port: Int = 1935, app: String, streamName: String) {
        self.host = host
        self.port = port
        self.app = app
        self.streamName = streamName
    }

    /// nil unless rtmp:// with a host, an app and a stream name (and no user:password: RTMP has
    /// no place for them; a token goes in the query).
    public init?(_ text: String) {
        guard let url = UpstreamURL(text), url.scheme == .rtmp, url.user == nil else { return nil }
        let path = url.path.dropFirst()  // the leading "/"
        guard let slash = path.firstIndex(of: "/") else { return nil }
        let app = path[..<slash]
        let name = path[path.index(after: slash)...]
        guard !app.isEmpty, !app.contains("?"), !name.isEmpty, !name.hasPrefix("?") else { return nil }
        host = url.host
        port = url.port
        self.app = String(app)
        streamName = String(name)
    }

    /// What `connect` carries as tcUrl.
    public var tcURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "rtmp://\(h):\(port)/\(app)"
    }

    public var description: String { "\(tcURL)/\(streamName)" }

    /// Why a command line's URL was refused.
    public struct Invalid: Error, CustomStringConvertible {
        public let url: String
        public var description: String { "\(url): expected rtmp://host[:port]/app/stream" }
    }

    /// The URL of a command line (relay-camera, relay-bench), or an error naming it.
    public init(parsing url: String) throws(Invalid) {
        guard let parsed = RTMPURL(url) else { throw Invalid(url: url) }
        self = parsed
    }
}
