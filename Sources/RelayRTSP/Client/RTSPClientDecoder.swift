import NIOCore
import RelayRTP

/// A response a camera sent: status, headers and body (the SDP of DESCRIBE).
public struct RTSPClientResponse: Sendable, Equatable {
    public var status: Int
    public var headers: RTSPHeaders
    public var body: ByteBuffer

    public var cseq: Int? { headers["CSeq"].flatMap { Int($0.trimmingSpaces) } }

    /// Every value of `name` (WWW-Authenticate may come several times).
    public func values(_ name: String) -> [String] {
        headers.fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }
}

/// What a camera sends on the RTSP connection of a pull.
public enum RTSPClientFrame: Sendable, Equatable {
    case response(RTSPClientResponse)
    /// Servers may send requests too (GET_PARAMETER keep-alives, ANNOUNCE); they are answered 501.
    case request(RTSPRequest)
    case interleaved(channel: UInt8, payload: ByteBuffer)
}

/// Frames a pull's RTSP connection: responses with bodies (the head bounded by `maxHeadBytes`, the
/// body by `maxBodyBytes`) and `$`-interleaved RTP/RTCP between them, split or pipelined anyhow.
/// Head lines are parsed by the server's `RTSPFrameDecoder.parseHead`.
public struct RTSPClientDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RTSPClientFrame

    let maxHeadBytes: Int
    let maxBodyBytes: Int
    /// Bytes of the current head already searched for its end (a head in drips is not rescanned).
    private var scanned = 0

    public init(maxHeadBytes: Int = RTSPFrameDecoder.defaultMaxHeadBytes, maxBodyBytes: Int = 64 << 10) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RTSPClientFrame? {
        while scanned == 0, let b = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), b == 0x0D || b == 0x0A {
            buffer.moveReaderIndex(forwardBy: 1)
        }
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        if first == Interleaved.magic {
            guard let frame = Interleaved.readFrame(from: &buffer) else { return nil }
            return .interleaved(channel: frame.channel, payload: frame.packet)
        }
        guard let headLength = headEnd(buffer) else {
            if buffer.readableBytes > maxHeadBytes { throw RTSPParseError.headTooLarge(limit: maxHeadBytes) }
            return nil
        }
        if headLength > maxHeadBytes { throw RTSPParseError.headTooLarge(limit: maxHeadBytes) }
        let parsed = try RTSPFrameDecoder.parseHead(buffer.readableBytesView.prefix(headLength))
        var length = 0
        if let raw = parsed.headers["Content-Length"] {
            guard let n = Int(raw.trimmingSpaces), n >= 0 else { throw RTSPParseError.badContentLength(String(raw.prefix(40))) }
            guard n <= maxBodyBytes else { throw RTSPParseError.bodyTooLarge(length: n, limit: maxBodyBytes) }
            length = n
        }
        guard buffer.readableBytes >= headLength &+ length,
              let body = buffer.getSlice(at: buffer.readerIndex &+ headLength, length: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: headLength &+ length)
        scanned = 0
        switch parsed.start {
        case .response(let status):
            return .response(RTSPClientResponse(status: status, headers: parsed.headers, body: body))
        case .request(let method, let uri, let version):
            return .request(RTSPRequest(method: method, uri: uri, version: version, headers: parsed.headers, body: body))
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RTSPClientFrame? {
        try decode(buffer: &buffer)
    }

    /// Length of the head with its blank line (CRLF CRLF or LF LF); scans at most maxHeadBytes + 4.
    private mutating func headEnd(_ buffer: ByteBuffer) -> Int? {
        let from = max(0, scanned - 3)
        let limit = maxHeadBytes &+ 4
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            let n = min(bytes.count, limit)
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
        if found == nil { scanned = min(buffer.readableBytes, limit) }
        return found
    }
}
