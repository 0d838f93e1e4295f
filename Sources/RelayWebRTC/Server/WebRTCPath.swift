import RelayCore

/// What a WHEP/WHIP URL names: `/APP/STREAM/whep` (a new viewer), `/APP/STREAM/whip` (a new
/// publisher), or either followed by `/SESSION` (that session: DELETE ends it).
struct WebRTCPath: Equatable {
    let stream: String
    let role: WebRTCSession.Role
    let session: String?

    init(stream: String, role: WebRTCSession.Role, session: String?) {
        self.stream = stream
        self.role = role
        self.session = session
    }

    static func matches(_ path: Substring) -> Bool {
        WebRTCPath(path) != nil
    }

    init?(_ path: Substring) {
        guard path.first == "/" else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        var end = parts.count - 1
        var session: String?
        if let role = WebRTCSession.Role(rawValue: String(parts[end])) {
            self.role = role
        } else if parts.count >= 4, let role = WebRTCSession.Role(rawValue: String(parts[end - 1])),
                  WebRTCPath.isToken(parts[end]) {
            self.role = role
            session = String(parts[end])
            end -= 1
        } else {
            return nil
        }
        let stream = parts[..<end].joined(separator: "/")
        guard isValidStreamID(stream) else { return nil }
        self.stream = stream
        self.session = session
    }

    /// Session tokens are 32 lowercase hex digits.
    static func isToken(_ s: Substring) -> Bool {
        s.utf8.count == 32 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    static func newToken() -> String {
        var rng = SystemRandomNumberGenerator()
        let a = rng.next() as UInt64, b = rng.next() as UInt64
        return hex(a) + hex(b)
    }

    private static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
