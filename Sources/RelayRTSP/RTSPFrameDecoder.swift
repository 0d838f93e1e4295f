import NIOCore
import RelayRTP

/// Why bytes from a client could not be framed as RTSP. Each is answered with an error status
/// and the connection is closed (framing cannot be recovered).
public enum RTSPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    case headTooLarge(limit: Int)
    case bodyTooLarge(length: Int, limit: Int)
    case malformedStartLine(String)
    case malformedHeader(String)
    case badContentLength(String)
    case unsupportedVersion(String)

    public var description: String {
        switch self {
        case .headTooLarge(let limit): return "request line and headers exceed \(limit) bytes"
        case .bodyTooLarge(let length, let limit): return "Content-Length \(length) exceeds \(limit) bytes"
        case .malformedStartLine(let line): return "malformed request line '\(line)'"
        case .malformedHeader(let line): return "malformed header line '\(line)'"
        case .badContentLength(let value): return "bad Content-Length '\(value)'"
        case .unsupportedVersion(let version): return "unsupported protocol version '\(version)'"
        }
    }

    /// The status the server answers with before closing.
    var status: Int {
        switch self {
        case .unsupportedVersion: return 505
        case .bodyTooLarge: return 413
        default: return 400
        }
    }
}

/// Frames an RTSP connection's input, a server's or a pull client's: requests and responses (with
/// bodies) and `$`-interleaved data, pipelined or split anywhere. Every buffer it holds is bounded.
public struct RTSPFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RTSPFrame

    public static let defaultMaxHeadBytes = 16 << 10
    public static let defaultMaxBodyBytes = 64 << 10

    let maxHeadBytes: Int
    let maxBodyBytes: Int
    /// Bytes of the current message's head already searched for its end (so a head that
    /// arrives in drips is not rescanned from the start each time).
    private var scanned = 0

    public init(maxHeadBytes: Int = defaultMaxHeadBytes, maxBodyBytes: Int = defaultMaxBodyBytes) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RTSPFrame? {
        // Blank lines between messages (bare CRLF keep-alives) carry nothing.
        while scanned == 0, let b = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), b == 0x0D || b == 0x0A {
            buffer.moveReaderIndex(forwardBy: 1)
        }
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        if first == Interleaved.magic {
            guard let frame = Interleaved.readFrame(from: &buffer) else { return nil }
            return .interleaved(channel: frame.channel, payload: frame.packet)
        }
        guard let headLength = findHeadEnd(buffer) else {
            if buffer.readableBytes > maxHeadBytes { throw RTSPParseError.headTooLarge(limit: maxHeadBytes) }
            return nil
        }
        if headLength > maxHeadBytes { throw RTSPParseError.headTooLarge(limit: maxHeadBytes) }
        let parsed = try Self.parseHead(buffer.readableBytesView.prefix(headLength))
        var length = 0
        if let raw = parsed.headers["Content-Length"] {
            guard let n = Int(raw.trimmingSpaces), n >= 0 else { throw RTSPParseError.badContentLength(String(raw.prefix(40))) }
            guard n <= maxBodyBytes else { throw RTSPParseError.bodyTooLarge(length: n, limit: maxBodyBytes) }
            length = n
        }
        // Both bounded (head by maxHeadBytes, body by maxBodyBytes): no overflow.
        guard buffer.readableBytes >= headLength &+ length,
              let body = buffer.getSlice(at: buffer.readerIndex &+ headLength, length: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: headLength &+ length)
        scanned = 0
        switch parsed.start {
        case .response(let status):
            return .response(RTSPReceivedResponse(status: status, headers: parsed.headers, body: body))
        case .request(let method, let uri, let version):
            return .request(RTSPRequest(method: method, uri: uri, version: version, headers: parsed.headers, body: body))
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RTSPFrame? {
        try decode(buffer: &buffer)
    }

    /// Length of the head including its terminating blank line (CRLF CRLF, or bare LF LF).
    private mutating func findHeadEnd(_ buffer: ByteBuffer) -> Int? {
        let from = max(0, scanned - 3)
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            let n = min(bytes.count, maxHeadBytes + 4)
            var i = from
            while i < n {
                if bytes[i] == 0x0A {
                    if i + 1 < n && bytes[i + 1] == 0x0A { return i + 2 }
                    if i + 2 < n && bytes[i + 1] == 0x0D && bytes[i + 2] == 0x0A { return i + 3 }
                }
                i += 1
            }
            return nil
        }
        if found == nil { scanned = min(buffer.readableBytes, maxHeadBytes + 4) }
        return found
    }

    enum StartLine {
        case request(method: String, uri: String, version: String)
        case response(status: Int)
    }

    static func parseHead(_ head: ByteBufferView) throws -> (start: StartLine, headers: RTSPHeaders) {
        // Split on LF bytes: in Swift strings CR LF is one Character, so split the bytes first.
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> Substring in
            let bytes = line.last == 0x0D ? line.dropLast() : line
            return Substring(String(decoding: bytes, as: UTF8.self))
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let startLine = lines.first else { throw RTSPParseError.malformedStartLine("") }
        let start = try parseStartLine(startLine)
        var headers = RTSPHeaders()
        var pending: (String, String)?
        for line in lines.dropFirst() {
            if let c = line.first, c == " " || c == "\t" {
                // Obsolete line folding: the value continues.
                guard var p = pending else { throw RTSPParseError.malformedHeader(String(line.prefix(80))) }
                p.1 += " " + line.trimmingSpaces
                pending = p
                continue
            }
            if let p = pending { headers.add(p.0, p.1) }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw RTSPParseError.malformedHeader(String(line.prefix(80)))
            }
            let name = line[..<colon]
            guard name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw RTSPParseError.malformedHeader(String(line.prefix(80)))
            }
            pending = (String(name), line[line.index(after: colon)...].trimmingSpaces)
        }
        if let p = pending { headers.add(p.0, p.1) }
        return (start, headers)
    }

    private static func parseStartLine(_ line: Substring) throws -> StartLine {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        let shown = String(line.prefix(80))
        if let first = parts.first, first.hasPrefix("RTSP/") {
            guard parts.count >= 2, let status = Int(parts[1]), (100...999).contains(status) else {
                throw RTSPParseError.malformedStartLine(shown)
            }
            return .response(status: status)
        }
        guard parts.count == 3 else { throw RTSPParseError.malformedStartLine(shown) }
        let method = parts[0]
        guard method.utf8.count <= 32, method.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x5F || $0 == 0x2D }) else {
            throw RTSPParseError.malformedStartLine(shown)
        }
        let version = parts[2]
        guard version.hasPrefix("RTSP/") else { throw RTSPParseError.malformedStartLine(shown) }
        guard version == "RTSP/1.0" else { throw RTSPParseError.unsupportedVersion(String(version.prefix(16))) }
        return .request(method: String(method), uri: String(parts[1]), version: String(version))
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
