public struct SDPError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// An SDP (RFC 8866) as lines: session attributes and media sections. Only what offer/answer and
/// RTSP ANNOUNCE/DESCRIBE read is kept (m= and a= lines); the other line types are skipped.
public struct SessionDescription: Sendable {
    public struct Attribute: Sendable, Equatable {
        public var name: String
        /// After the first ':'; nil for a flag such as `a=rtcp-mux`.
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    public struct Media: Sendable {
        /// "video", "audio", "application" …
        public var kind: String
        public var port: Int
        public var proto: String
        public var formats: [String]
        public var attributes: [Attribute]

        public init(kind: String, port: Int, proto: String, formats: [String], attributes: [Attribute]) {
            self.kind = kind
            self.port = port
            self.proto = proto
            self.formats = formats
            self.attributes = attributes
        }

        /// First value.
        public func attribute(_ name: String) -> String? {
            attributes.first { $0.name == name }?.value
        }

        /// Every value.
        public func attributes(_ name: String) -> [String] {
            attributes.compactMap { $0.name == name ? $0.value : nil }
        }

        public func has(_ name: String) -> Bool {
            attributes.contains { $0.name == name }
        }
    }

    /// Session level.
    public var attributes: [Attribute]
    public var media: [Media]

    public static let maxBytes = 65_536
    static let maxLines = 4096
    static let maxMedia = 32

    /// Accepts CRLF or LF; bounded: <= 64 KiB text, <= 4096 lines, <= 32 media sections; unknown
    /// lines ignored. The first line must be `v=0`.
    public init(parsing text: String) throws(SDPError) {
        guard text.utf8.count <= Self.maxBytes else { throw SDPError("SDP of \(text.utf8.count) bytes (at most \(Self.maxBytes))") }
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), maxSplits: Self.maxLines, omittingEmptySubsequences: true)
        guard lines.count <= Self.maxLines else { throw SDPError("SDP of more than \(Self.maxLines) lines") }
        attributes = []
        media = []
        var sawVersion = false
        for rawLine in lines {
            var line = Substring(rawLine)
            if line.utf8.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.isEmpty { continue }
            guard line.utf8.count >= 2, line.utf8.dropFirst().first == UInt8(ascii: "=") else { continue }
            let type = line.utf8.first
            let value = line.dropFirst(2)
            if !sawVersion {
                guard type == UInt8(ascii: "v"), value == "0" else { throw SDPError("SDP does not start with v=0") }
                sawVersion = true
                continue
            }
            switch type {
            case UInt8(ascii: "m"):
                guard media.count < Self.maxMedia else { throw SDPError("more than \(Self.maxMedia) media sections") }
                media.append(try Self.media(value))
            case UInt8(ascii: "a"):
                let attribute = Self.attribute(value)
                if media.isEmpty {
                    attributes.append(attribute)
                } else {
                    media[media.count - 1].attributes.append(attribute)
                }
            default:
                break
            }
        }
        guard sawVersion else { throw SDPError("empty SDP") }
    }

    /// `<media> <port>[/<count>] <proto> <fmt> …`
    private static func media(_ line: Substring) throws(SDPError) -> Media {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 4, let port = fields[1].split(separator: "/").first.flatMap({ Int($0) }),
              (0...65535).contains(port)
        else { throw SDPError("bad media line: m=\(line.prefix(80))") }
        return Media(kind: String(fields[0]), port: port, proto: String(fields[2]),
                     formats: fields.dropFirst(3).map(String.init), attributes: [])
    }

    private static func attribute(_ text: Substring) -> Attribute {
        guard let colon = text.firstIndex(of: ":") else { return Attribute(name: String(text), value: nil) }
        return Attribute(name: String(text[..<colon]), value: String(text[text.index(after: colon)...]))
    }
}
