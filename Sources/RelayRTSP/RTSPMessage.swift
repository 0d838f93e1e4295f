import NIOCore

/// RTSP header fields in arrival order; names compare case-insensitively (RFC 2326 §4.2).
public struct RTSPHeaders: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public private(set) var fields: [Field] = []

    public init(_ pairs: [(String, String)] = []) {
        for (name, value) in pairs { add(name, value) }
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// The first value of `name`, if present.
    public subscript(_ name: String) -> String? {
        fields.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }
}

/// One RTSP request (RFC 2326 §6).
public struct RTSPRequest: Sendable, Equatable {
    public var method: String
    public var uri: String
    public var version: String
    public var headers: RTSPHeaders
    public var body: ByteBuffer

    public init(method: String, uri: String, version: String = "RTSP/1.0", headers: RTSPHeaders = RTSPHeaders(),
                body: ByteBuffer = ByteBuffer()) {
        self.method = method
        self.uri = uri
        self.version = version
        self.headers = headers
        self.body = body
    }

    public var cseq: String? { headers["CSeq"] }
}

/// What a client sends on an RTSP connection: requests and, once set up, interleaved data.
/// A response read off the wire: status, headers and body (the SDP of a DESCRIBE).
public struct RTSPReceivedResponse: Sendable, Equatable {
    public var status: Int
    public var headers: RTSPHeaders
    public var body: ByteBuffer

    public init(status: Int, headers: RTSPHeaders, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var cseq: Int? { headers["CSeq"].flatMap { Int($0.trimmingSpaces) } }

    /// Every value of `name` (WWW-Authenticate may come several times).
    public func values(_ name: String) -> [String] {
        headers.fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }
}

/// What one RTSP connection carries, either way: requests (a server's input; a camera may send
/// GET_PARAMETER too), responses (a pull client's input) and `$`-interleaved data between them.
public enum RTSPFrame: Sendable, Equatable {
    case request(RTSPRequest)
    /// A server logs and drops the responses it gets (it sends no requests); a pull client reads them.
    case response(RTSPReceivedResponse)
    /// `$`, channel, 16-bit length, payload (RFC 2326 §10.12): RTCP receiver reports on TCP.
    case interleaved(channel: UInt8, payload: ByteBuffer)
}

func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (c, d) in zip(x, y) where c != d {
        guard (c | 0x20) == (d | 0x20), (c | 0x20) >= 0x61, (c | 0x20) <= 0x7A else { return false }
    }
    return true
}

func asciiHasPrefixIgnoringCase(_ s: Substring, _ prefix: String) -> Bool {
    guard s.utf8.count >= prefix.utf8.count else { return false }
    return asciiCaseInsensitiveEquals(String(s.prefix(prefix.count)), prefix)
}
