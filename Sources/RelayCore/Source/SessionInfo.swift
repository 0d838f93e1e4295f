import NIOCore

/// Who is on the other end of a publish or play session; travels to logs, hooks and the admin API.
public struct SessionInfo: Sendable {
    public var sessionID: String
    /// "rtmp", "flv", "rtsp", "gb28181", "jt1078".
    public var protocolName: String
    public var remoteAddress: String
    /// Query-string parameters of the publish/play URL.
    public var params: [String: String]

    public init(sessionID: String, protocolName: String, remoteAddress: String, params: [String: String] = [:]) {
        self.sessionID = sessionID
        self.protocolName = protocolName
        self.remoteAddress = remoteAddress
        self.params = params
    }
}

extension SocketAddress {
    /// "ip:port" as hooks and logs print it.
    public var displayString: String {
        if let ip = ipAddress, let port { return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
        return description
    }
}

/// Splits `a/b?x=1&y=2` into the path and decoded query parameters.
public func splitQuery(_ s: Substring) -> (path: Substring, params: [String: String]) {
    guard let q = s.firstIndex(of: "?") else { return (s, [:]) }
    var params: [String: String] = [:]
    for pair in s[s.index(after: q)...].split(separator: "&") where !pair.isEmpty {
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = percentDecode(kv[0])
        params[key] = kv.count > 1 ? percentDecode(kv[1]) : ""
    }
    return (s[..<q], params)
}

/// `%XX` decoded (a malformed escape kept as it is); `+` is a space in a query, not in a URL's user info.
func percentDecode(_ s: Substring, plusIsSpace: Bool = true) -> String {
    guard s.contains("%") || (plusIsSpace && s.contains("+")) else { return String(s) }
    var bytes: [UInt8] = []
    var it = Array(s.utf8)[...]
    while let c = it.popFirst() {
        if c == UInt8(ascii: "%"), it.count >= 2,
           let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
            bytes.append(v)
            it = it.dropFirst(2)
        } else {
            bytes.append(plusIsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Stream ids are `app/stream` (nested paths allowed): printable, no `..`, no empty segments, so
/// they are safe in logs, URLs and file names.
public func isValidStreamID(_ id: String) -> Bool {
    guard !id.isEmpty, id.utf8.count <= 256 else { return false }
    let parts = id.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count >= 1 else { return false }
    for part in parts {
        if part.isEmpty || part == "." || part == ".." { return false }
        for c in part.utf8 {
            let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "~")
            if !ok { return false }
        }
    }
    return true
}

/// A peer-given name made safe for one log line or error message: control characters replaced,
/// at most 80 characters.
public func printableStreamID(_ s: String) -> String {
    let clean = String(s.unicodeScalars.prefix(81).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    return clean.count > 80 ? String(clean.prefix(80)) + "…" : clean
}
