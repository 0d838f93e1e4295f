/// The URL of a stream pulled from elsewhere (a camera, an origin), taken apart: scheme,
/// credentials, host, port and the rest (path and query).
public struct UpstreamURL: Sendable, Equatable {
    public enum Scheme: String, Sendable { case rtsp, rtmp, http, https }

    public var scheme: Scheme
    public var user: String?
    public var password: String?
    public var host: String
    public var port: Int
    /// From the first `/` after the authority ("/live/cam1?x=1"); "/" when absent.
    public var path: String

    /// nil when not one of the four schemes, without a host, or with a bad port.
    public init?(_ text: String) {
        guard text.count <= 2048, let colon = text.firstIndex(of: ":"),
              let scheme = Scheme(rawValue: text[..<colon].lowercased()) else { return nil }
        let afterScheme = text[colon...]
        guard afterScheme.hasPrefix("://") else { return nil }
        let rest = afterScheme.dropFirst(3)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        path = authorityEnd == rest.endIndex ? "/" : String(rest[authorityEnd...])
        if path.hasPrefix("?") { path = "/" + path }
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let sep = credentials.firstIndex(of: ":") {
                user = percentDecode(credentials[..<sep], plusIsSpace: false)
                password = percentDecode(credentials[credentials.index(after: sep)...], plusIsSpace: false)
            } else {
                user = percentDecode(credentials, plusIsSpace: false)
            }
        }
        self.scheme = scheme
        let defaultPort: Int = switch scheme {
        case .rtsp: 554
        case .rtmp: 1935
        case .http: 80
        case .https: 443
        }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let tail = authority[authority.index(after: close)...]
            guard tail.isEmpty || tail.hasPrefix(":") else { return nil }
            guard let p = tail.isEmpty ? defaultPort : Int(tail.dropFirst()) else { return nil }
            port = p
        } else if let sep = authority.lastIndex(of: ":") {
            host = String(authority[..<sep])
            guard let p = Int(authority[authority.index(after: sep)...]) else { return nil }
            port = p
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    /// The URL without its credentials (for logs, the admin API and RTSP requests).
    public var redacted: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(scheme.rawValue)://\(h):\(port)\(path)"
    }
}
