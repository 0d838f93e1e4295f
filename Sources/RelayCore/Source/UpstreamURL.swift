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

    /// nil when not one of the four schemes, without a host, or with a bad port. The rules are
    /// the ones openapi.yaml's pull `url` pattern states (a test holds the two together):
    /// printable ASCII without spaces; at most one `@` before the host (one in a password is
    /// written %40); a host name of letters, digits, `.`, `-` and `_` (≤ 253), or an IPv6
    /// literal in brackets; a port of 1-65535 without leading zeros.
    public init?(_ text: String) {
        guard text.utf8.count <= 2048, text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }),
              let colon = text.firstIndex(of: ":"),
              let scheme = Scheme(rawValue: text[..<colon].lowercased()) else { return nil }
        let afterScheme = text[colon...]
        guard afterScheme.hasPrefix("://") else { return nil }
        let rest = afterScheme.dropFirst(3)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        path = authorityEnd == rest.endIndex ? "/" : String(rest[authorityEnd...])
        if path.hasPrefix("?") { path = "/" + path }
        if let at = authority.firstIndex(of: "@") {
            let credentials = authority[..<at]
            guard !credentials.isEmpty, !authority[authority.index(after: at)...].contains("@") else { return nil }
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
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            guard (2...45).contains(host.count), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            let tail = authority[authority.index(after: close)...]
            guard tail.isEmpty || tail.hasPrefix(":") else { return nil }
            portText = tail.isEmpty ? nil : tail.dropFirst()
        } else {
            let sep = authority.lastIndex(of: ":")
            host = String(authority[..<(sep ?? authority.endIndex)])
            guard (1...253).contains(host.count),
                  host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }) else { return nil }
            portText = sep.map { authority[authority.index(after: $0)...] }
        }
        if let portText {
            guard (1...5).contains(portText.count), portText.first != "0", portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let p = Int(portText), p <= 65535 else { return nil }
            port = p
        } else {
            port = defaultPort
        }
    }

    /// The URL without its credentials (for logs, the admin API and RTSP requests).
    public var redacted: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(scheme.rawValue)://\(h):\(port)\(path)"
    }
}
