/// One side's ICE username fragment and password (RFC 8839 5.4): the relay's go in its answer and
/// key the MESSAGE-INTEGRITY of every binding request a browser sends it.
public struct ICECredentials: Sendable, Hashable {
    public var ufrag: String
    public var password: String

    public init(ufrag: String, password: String) {
        self.ufrag = ufrag
        self.password = password
    }

    /// ice-char: ALPHA / DIGIT / "+" / "/" — 64 of them, so a random byte's low 6 bits pick one evenly.
    static let iceChars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// ufrag 8, password 24 ice-chars from a CSPRNG (SystemRandomNumberGenerator): the password is
    /// the only secret between the answer and the binding requests (144 bits).
    public static func random() -> ICECredentials {
        var rng = SystemRandomNumberGenerator()
        func chars(_ count: Int) -> String {
            String(decoding: (0..<count).map { _ in iceChars[Int(rng.next() & 63)] }, as: UTF8.self)
        }
        return ICECredentials(ufrag: chars(8), password: chars(24))
    }

    /// RFC 8839 5.4: ufrag 4...256 and password 22...256 ice-chars.
    static func isValid(ufrag: String, password: String) -> Bool {
        func iceString(_ s: String, _ lengths: ClosedRange<Int>) -> Bool {
            lengths.contains(s.utf8.count) && s.utf8.allSatisfy { iceChars.contains($0) }
        }
        return iceString(ufrag, 4...256) && iceString(password, 22...256)
    }
}
