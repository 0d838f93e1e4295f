import Crypto
import Foundation

/// Answers a camera's 401 from the URL's credentials: Digest (RFC 2617 / RFC 7616; MD5, MD5-sess or SHA-256,
/// qop=auth or none) when offered, else Basic. After the challenge every request carries an Authorization.
public struct RTSPAuthenticator: Sendable {
    public enum Scheme: Sendable, Equatable {
        case basic
        case digest(realm: String, nonce: String, opaque: String?, algorithm: String, qop: Bool)
    }

    public let user: String
    public let password: String
    public private(set) var scheme: Scheme?
    private var nonceCount: UInt32 = 0
    private let makeCnonce: @Sendable () -> String

    public init(user: String, password: String,
                cnonce: @escaping @Sendable () -> String = { String(UInt64.random(in: 0...UInt64.max), radix: 16) }) {
        self.user = user
        self.password = password
        makeCnonce = cnonce
    }

    /// Takes the strongest challenge we can answer; false when none (an unknown algorithm, no challenge).
    public mutating func accept(_ challenges: [RTSPAuthChallenge]) -> Bool {
        nonceCount = 0
        let digests = challenges.filter { asciiCaseInsensitiveEquals($0.scheme, "Digest") }
        // SHA-256 before MD5 when a camera offers both (RFC 7616 §3.7).
        let ordered = digests.sorted { ($0.parameters["algorithm"]?.uppercased().hasPrefix("SHA-256") ?? false) && !($1.parameters["algorithm"]?.uppercased().hasPrefix("SHA-256") ?? false) }
        for c in ordered {
            let algorithm = (c.parameters["algorithm"] ?? "MD5").uppercased()
            guard ["MD5", "MD5-SESS", "SHA-256", "SHA-256-SESS"].contains(algorithm),
                  let realm = c.parameters["realm"], let nonce = c.parameters["nonce"] else { continue }
            let qops = (c.parameters["qop"] ?? "").split(separator: ",").map { $0.trimmingSpaces.lowercased() }
            if !qops.isEmpty && !qops.contains("auth") { continue }
            scheme = .digest(realm: realm, nonce: nonce, opaque: c.parameters["opaque"], algorithm: algorithm,
                             qop: qops.contains("auth"))
            return true
        }
        if challenges.contains(where: { asciiCaseInsensitiveEquals($0.scheme, "Basic") }) {
            scheme = .basic
            return true
        }
        return false
    }

    /// The Authorization header for `method` on `uri`, once a challenge was accepted.
    public mutating func authorization(method: String, uri: String) -> String? {
        switch scheme {
        case nil:
            return nil
        case .basic:
            return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        case .digest(let realm, let nonce, let opaque, let algorithm, let qop):
            nonceCount &+= 1
            let nc = String(nonceCount, radix: 16).leftPadded(to: 8)
            let cnonce = makeCnonce()
            let sha = algorithm.hasPrefix("SHA-256")
            func hash(_ text: String) -> String { sha ? Self.sha256(text) : Self.md5(text) }
            var ha1 = hash("\(user):\(realm):\(password)")
            if algorithm.hasSuffix("-SESS") { ha1 = hash("\(ha1):\(nonce):\(cnonce)") }
            let ha2 = hash("\(method):\(uri)")
            let response = qop ? hash("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)") : hash("\(ha1):\(nonce):\(ha2)")
            var header = "Digest username=\"\(Self.escaped(user))\", realm=\"\(Self.escaped(realm))\", "
                + "nonce=\"\(Self.escaped(nonce))\", uri=\"\(Self.escaped(uri))\", response=\"\(response)\""
            if algorithm != "MD5" { header += ", algorithm=\(algorithm)" }
            if let opaque { header += ", opaque=\"\(Self.escaped(opaque))\"" }
            if qop { header += ", qop=auth, nc=\(nc), cnonce=\"\(cnonce)\"" }
            return header
        }
    }

    static func md5(_ text: String) -> String {
        Insecure.MD5.hash(data: Data(text.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// Quoted-string content; control characters (a camera's CR in a nonce) are dropped, never sent.
    private static func escaped(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
            .replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
