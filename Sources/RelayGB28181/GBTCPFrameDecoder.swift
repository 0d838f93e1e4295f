import NIOCore
import RelayRTP

/// How a device frames RTP on its TCP connection, as read from the connection's first bytes.
enum GBTCPFraming: String, Sendable {
    /// A 16-bit length before each packet (RFC 4571): what GB28181 specifies.
    case rfc4571
    /// Bare RTP packets back to back (devices that forget the length prefix).
    case bare
    /// RTSP-style `$`, channel, 16-bit length (RFC 2326 §10.12); odd channels carry RTCP.
    case interleaved
}

/// Cuts a GB28181 TCP byte stream into RTP packets whatever framing the device uses.
///
/// The framing is decided once, from the first bytes: a plausible length prefix (an RTP version
/// 2 header after it) is RFC 4571, `$` with an RTP header four bytes on is interleaved, a bare
/// RTP version 2 header is bare RTP; anything else is taken as RFC 4571 (the RTP parser then
/// refuses it). Bare RTP has no lengths, so a packet ends where the next header of the same
/// SSRC and payload type with one of the next `maxSequenceGap` sequence numbers begins (searched
/// at most `maxPacket` bytes on, each byte once); the last packet ends at EOF.
///
/// Never holds more than one packet plus one read (`ByteToMessageHandler`'s bound caps the rest);
/// a broken interleaved header, or a bare packet longer than `maxPacket`, throws
/// `GBTCPFramingError` and the connection closes.
struct GBTCPFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// The largest packet RFC 4571 can frame; bare packets are held to it too.
    static let maxPacket = RFC4571.maxFrame
    /// Bare RTP: how many sequence numbers a device may skip between two packets it writes
    /// (some drop packets when their send buffer is full). With the SSRC and payload type to
    /// match too, a false header inside a payload is as good as impossible.
    static let maxSequenceGap: UInt16 = 64
    /// A first length prefix at most this large is taken at face value; a larger one that could
    /// also be a bare RTP header is confirmed by the packet after it.
    static let plausibleLength = 16 << 10

    private(set) var framing: GBTCPFraming?
    private var rfc4571 = RFC4571FrameDecoder()
    /// Bare RTP: bytes of the current packet already searched for the next header.
    private var scanned = 0
    private let onFraming: (GBTCPFraming) -> Void

    /// `onFraming` is told the framing once it is decided (to log a device's quirk).
    init(onFraming: @escaping (GBTCPFraming) -> Void = { _ in }) {
        self.onFraming = onFraming
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        try decode(buffer: &buffer, atEOF: false)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer, atEOF: true)
    }

    private mutating func decode(buffer: inout ByteBuffer, atEOF: Bool) throws -> ByteBuffer? {
        if framing == nil {
            // A zero-length RFC 4571 frame (keep-alive) before anything else decides nothing.
            if buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0 {
                buffer.moveReaderIndex(forwardBy: 2)
                return ByteBuffer()
            }
            guard let decided = Self.detect(buffer, atEOF: atEOF) else { return nil }
            framing = decided
            onFraming(decided)
        }
        switch framing {
        case .rfc4571?: return try rfc4571.decode(buffer: &buffer)
        case .interleaved?: return try interleaved(&buffer)
        case .bare?: return try bare(&buffer, atEOF: atEOF)
        case nil: return nil
        }
    }

    // MARK: detection

    /// The framing of a connection that begins with `b`; nil until enough bytes are in.
    static func detect(_ b: ByteBuffer, atEOF: Bool) -> GBTCPFraming? {
        let n = b.readableBytes
        guard n >= 3, let length = b.getInteger(at: b.readerIndex, as: UInt16.self).map(Int.init) else { return nil }
        let first = b.getInteger(at: b.readerIndex, as: UInt8.self) ?? 0
        if first == 0x24 {
            // `$`, channel, a plausible length, an RTP header. (An RFC 4571 prefix 0x24xx has an
            // RTP header, not a length under 16 KiB, after it.)
            guard n >= 5 else { return nil }
            let inner = b.getInteger(at: b.readerIndex + 2, as: UInt16.self).map(Int.init) ?? 0
            if (12...plausibleLength).contains(inner) && isRTPv2(b, at: 4) { return .interleaved }
        }
        let prefixed = length >= 12 && isRTPv2(b, at: 2)
        let bare = isRTPv2(b, at: 0)
        switch (prefixed, bare) {
        case (true, false):
            return .rfc4571
        case (false, true):
            return .bare
        case (true, true):
            // A 32-48 KiB prefix that is also a bare header: the next prefix (another RTP header
            // of the same SSRC after it) decides. Waits for at most one frame.
            if length <= plausibleLength { return .rfc4571 }
            let next = 2 + length
            guard n >= next + 2 + 12 else { return atEOF ? .rfc4571 : nil }
            let sameSSRC = b.getInteger(at: b.readerIndex + 10, as: UInt32.self)
                == b.getInteger(at: b.readerIndex + next + 10, as: UInt32.self)
            return isRTPv2(b, at: next + 2) && sameSSRC ? .rfc4571 : .bare
        case (false, false):
            // Nothing fits: the standard framing, whose RTP parser then says what is wrong.
            return .rfc4571
        }
    }

    static func isRTPv2(_ b: ByteBuffer, at offset: Int) -> Bool {
        guard let v = b.getInteger(at: b.readerIndex + offset, as: UInt8.self) else { return false }
        return v & 0xC0 == 0x80
    }

    // MARK: framings

    private func interleaved(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard buffer.readableBytes >= 4,
              let magic = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let channel = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self).map(Int.init) else { return nil }
        guard magic == 0x24 else { throw GBTCPFramingError.badInterleavedHeader(magic) }
        guard let frame = buffer.getSlice(at: buffer.readerIndex + 4, length: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4 + length)
        // Odd channels carry RTCP: passed on as a keep-alive (nothing to demux).
        return channel & 1 == 0 ? frame : ByteBuffer()
    }

    private mutating func bare(_ buffer: inout ByteBuffer, atEOF: Bool) throws -> ByteBuffer? {
        let n = buffer.readableBytes
        guard n >= 12 else { return nil }
        let r = buffer.readerIndex
        guard Self.isRTPv2(buffer, at: 0),
              let pt = buffer.getInteger(at: r + 1, as: UInt8.self),
              let seq = buffer.getInteger(at: r + 2, as: UInt16.self),
              let ssrc = buffer.getInteger(at: r + 8, as: UInt32.self) else {
            throw GBTCPFramingError.lostSync
        }
        let limit = min(n - 12, Self.maxPacket)  // last offset a following header may start at
        let from = max(scanned, 12)
        let cut: Int? = from > limit ? nil : buffer.withUnsafeReadableBytes { p -> Int? in
            var i = from
            while i <= limit {
                if p[i] & 0xC0 == 0x80, p[i + 1] & 0x7F == pt & 0x7F,
                   (1...Self.maxSequenceGap).contains((UInt16(p[i + 2]) << 8 | UInt16(p[i + 3])) &- seq),
                   UInt32(p[i + 8]) << 24 | UInt32(p[i + 9]) << 16 | UInt32(p[i + 10]) << 8 | UInt32(p[i + 11]) == ssrc {
                    return i
                }
                i += 1
            }
            return nil
        }
        if let cut {
            scanned = 0
            return buffer.readSlice(length: cut)
        }
        scanned = limit + 1
        if atEOF {
            guard n <= Self.maxPacket else { throw GBTCPFramingError.packetTooLong(limit: Self.maxPacket) }
            scanned = 0
            return buffer.readSlice(length: n)
        }
        if limit >= Self.maxPacket { throw GBTCPFramingError.packetTooLong(limit: Self.maxPacket) }
        return nil
    }
}

/// Bytes on a GB28181 TCP connection that no RTP framing explains: the connection closes.
enum GBTCPFramingError: Error, CustomStringConvertible {
    case badInterleavedHeader(UInt8)
    case packetTooLong(limit: Int)
    case lostSync

    var description: String {
        switch self {
        case .badInterleavedHeader(let b):
            return "interleaved framing: expected '$', found 0x\(String(b, radix: 16))"
        case .packetTooLong(let limit):
            return "RTP without length prefixes: no next RTP header (same SSRC and payload type, one of the next \(GBTCPFrameDecoder.maxSequenceGap) sequence numbers) within \(limit) bytes"
        case .lostSync:
            return "RTP without length prefixes: the packet does not begin with an RTP version 2 header"
        }
    }
}
