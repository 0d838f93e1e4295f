/// `rtmp://host[:port]/app/stream[?query]`: the app is the first path component, the stream
/// name everything after it (query included), as ffmpeg and OBS split it.
public struct RTMPPublishURL: Sendable, Equatable, CustomStringConvertible {
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

    public init(parsing url: String) throws {
        guard url.lowercased().hasPrefix("rtmp://") else {
            throw CameraInputError("\(url): only rtmp:// URLs are supported")
        }
        let rest = url.dropFirst("rtmp://".count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw CameraInputError("\(url): no app/stream path (rtmp://host:port/app/stream)")
        }
        let authority = rest[..<slash]
        var host = String(authority)
        var port = 1935
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else { throw CameraInputError("\(url): bad port") }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else {
                throw CameraInputError("\(url): bad port")
            }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw CameraInputError("\(url): bad host or port") }
        let path = rest[rest.index(after: slash)...]
        guard let split = path.firstIndex(of: "/") else {
            throw CameraInputError("\(url): no stream name (rtmp://host:port/app/stream)")
        }
        let app = String(path[..<split])
        let name = String(path[path.index(after: split)...])
        guard !app.isEmpty, !name.isEmpty else {
            throw CameraInputError("\(url): empty app or stream name")
        }
        self.init(host: host, port: port, app: app, streamName: name)
    }

    /// What `connect` carries as tcUrl.
    public var tcURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "rtmp://\(h):\(port)/\(app)"
    }

    public var description: String { "\(tcURL)/\(streamName)" }
}
