import NIOCore

/// One packet of a compound RTCP packet (RFC 3550 §6.4): where it lies, already checked to be
/// version 2 and to fit in the bytes.
struct RTCPPacketHeader {
    /// Packet type (200 SR, 201 RR, 205 RTPFB, 206 PSFB …).
    let type: UInt8
    /// The 5-bit count field: report count, or the feedback message type (FMT).
    let count: Int
    /// Offset of the packet's first byte.
    let at: Int
    /// Length in bytes, header and padding included.
    let length: Int
    /// Bytes after the 4-byte header, padding left out (nil: a padding count that does not fit).
    let body: Range<Int>?
}

/// Walks the packets of a compound RTCP packet without copying. Stops at the end, after
/// `limit` packets, or at the first packet that is not version 2 or does not fit (`malformed`):
/// a peer's bytes never trap and the walk never goes back.
struct RTCPCompound: IteratorProtocol {
    private let buffer: ByteBuffer
    private var at: Int
    private var left: Int
    private(set) var malformed = false

    init(_ buffer: ByteBuffer, limit: Int = .max) {
        self.buffer = buffer
        self.at = buffer.readerIndex
        self.left = limit
    }

    mutating func next() -> RTCPPacketHeader? {
        let end = buffer.writerIndex
        guard at < end, left > 0 else { return nil }
        guard end - at >= 4, let b0 = buffer.getInteger(at: at, as: UInt8.self), b0 >> 6 == 2,
              let type = buffer.getInteger(at: at + 1, as: UInt8.self),
              let words = buffer.getInteger(at: at + 2, as: UInt16.self) else { return fail() }
        let length = 4 * (Int(words) + 1)
        guard length <= end - at else { return fail() }
        var body: Range<Int>? = at + 4 ..< at + length
        if b0 & 0x20 != 0 {
            // The last octet counts the padding octets, itself included (§6.4.1).
            let pad = buffer.getInteger(at: at + length - 1, as: UInt8.self).map(Int.init) ?? 0
            body = pad > 0 && pad <= length - 4 ? at + 4 ..< at + length - pad : nil
        }
        let header = RTCPPacketHeader(type: type, count: Int(b0 & 0x1F), at: at, length: length, body: body)
        at += length
        left -= 1
        return header
    }

    private mutating func fail() -> RTCPPacketHeader? {
        malformed = true
        at = buffer.writerIndex
        return nil
    }
}
