/// One challenge of a `WWW-Authenticate` header (RFC 7235 §4.1): a scheme and its parameters.
/// A header may hold several challenges separated by commas, and quoted values may hold commas too.
public struct RTSPAuthChallenge: Sendable, Equatable {
    public var scheme: String
    /// Parameter names lowercased; values unquoted.
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// Every challenge of every `WWW-Authenticate` value, in order (at most 16; bounded input).
    public static func parse(_ values: [String]) -> [RTSPAuthChallenge] {
        var out: [RTSPAuthChallenge] = []
        for value in values.prefix(16) {
            var scanner = Scanner(Array(value.utf8.prefix(8192)))
            while out.count < 16, let challenge = scanner.challenge() { out.append(challenge) }
        }
        return out
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func challenge() -> RTSPAuthChallenge? {
            skip { $0 == 0x2C || Self.isSpace($0) }
            guard let scheme = token() else { return nil }
            var parameters: [String: String] = [:]
            while true {
                let mark = i
                skip { $0 == 0x2C || Self.isSpace($0) }
                guard let name = token() else { break }
                skip(Self.isSpace)
                guard i < bytes.count, bytes[i] == 0x3D else {  // a token without '=' starts the next challenge
                    i = mark
                    break
                }
                i += 1
                skip(Self.isSpace)
                let value = quoted() ?? token() ?? ""
                if parameters.count < 32 { parameters[name.lowercased()] = value }
            }
            return RTSPAuthChallenge(scheme: scheme, parameters: parameters)
        }

        private mutating func token() -> String? {
            let start = i
            while i < bytes.count, bytes[i] > 0x20, bytes[i] < 0x7F, bytes[i] != 0x2C, bytes[i] != 0x3D, bytes[i] != 0x22 {
                i += 1
            }
            // token68 values (Basic's are base64) may end in '='.
            return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
        }

        private mutating func quoted() -> String? {
            guard i < bytes.count, bytes[i] == 0x22 else { return nil }
            i += 1
            var value: [UInt8] = []
            while i < bytes.count, bytes[i] != 0x22 {
                if bytes[i] == 0x5C, i + 1 < bytes.count { i += 1 }
                value.append(bytes[i])
                i += 1
            }
            if i < bytes.count { i += 1 }
            return String(decoding: value, as: UTF8.self)
        }

        private mutating func skip(_ matching: (UInt8) -> Bool) {
            while i < bytes.count, matching(bytes[i]) { i += 1 }
        }

        private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
    }
}
