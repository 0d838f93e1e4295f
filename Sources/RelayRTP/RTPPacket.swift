import NIOCore

/// Why bytes could not be taken as an RTP packet (RFC 3550 §5.1). The message names the field
/// and the value so a log line says what the peer sent.
public enum RTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case badVersion(Int)
    case csrcOverrun(count: Int, length: Int)
    case extensionOverrun(words: Int, length: Int)
    case badPadding(count: Int, available: Int)

    public var description: String {
        switch self {
        case .tooShort(let n):
            return "RTP packet of \(n) bytes is shorter than the 12-byte header"
        case .badVersion(let v):
            return "RTP version \(v) (expected 2): not an RTP packet"
        case .csrcOverrun(let count, let length):
            return "RTP header with \(count) CSRCs overruns the \(length)-byte packet"
        case .extensionOverrun(let words, let length):
            return "RTP header extension of \(words) words overruns the \(length)-byte packet"
        case .badPadding(let count, let available):
            return "RTP padding count \(count) with \(available) bytes after the header"
        }
    }
}

/// The fixed header of an RTP packet (RFC 3550 §5.1) and where its payload lies, read without
/// copying. The one RTP header parser: `RTPPacket(parsing:)` and RTSP play both use it.
public struct RTPHeader: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequence: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcCount: Int
    /// The header extension's profile-defined 16 bits, when the X bit is set.
    public var extensionProfile: UInt16?
    /// Offset of the payload within the packet (after CSRCs and any header extension).
    public var payloadOffset: Int
    /// Payload bytes (padding removed).
    public var payloadLength: Int

    /// The header of a packet being built: version 2, no CSRCs, extension or padding.
    public init(marker: Bool, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32, payloadLength: Int) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcCount = 0
        self.extensionProfile = nil
        self.payloadOffset = 12
        self.payloadLength = payloadLength
    }

    /// Parses the header of a whole packet (a datagram, or one framed packet).
    public init(parsing packet: ByteBuffer) throws(RTPError) {
        let length = packet.readableBytes
        let at = packet.readerIndex
        guard length >= 12,
              let b0 = packet.getInteger(at: at, as: UInt8.self),
              let b1 = packet.getInteger(at: at + 1, as: UInt8.self),
              let sequence = packet.getInteger(at: at + 2, as: UInt16.self),
              let timestamp = packet.getInteger(at: at + 4, as: UInt32.self),
              let ssrc = packet.getInteger(at: at + 8, as: UInt32.self) else { throw .tooShort(length) }
        let version = Int(b0 >> 6)
        guard version == 2 else { throw .badVersion(version) }
        marker = b1 & 0x80 != 0
        payloadType = b1 & 0x7F
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        csrcCount = Int(b0 & 0x0F)
        var offset = 12 + 4 * csrcCount
        guard offset <= length else { throw .csrcOverrun(count: csrcCount, length: length) }
        extensionProfile = nil
        if b0 & 0x10 != 0 {
            guard offset + 4 <= length,
                  let profile = packet.getInteger(at: at + offset, as: UInt16.self),
                  let words = packet.getInteger(at: at + offset + 2, as: UInt16.self).map(Int.init) else {
                throw .extensionOverrun(words: 0, length: length)
            }
            extensionProfile = profile
            offset += 4 + 4 * words  // ≤ 12 + 60 + 4 + 262140: no overflow
            guard offset <= length else { throw .extensionOverrun(words: words, length: length) }
        }
        var end = length
        if b0 & 0x20 != 0 {
            let count = packet.getInteger(at: at + length - 1, as: UInt8.self).map(Int.init) ?? 0
            guard count > 0, count <= length - offset else { throw .badPadding(count: count, available: length - offset) }
            end -= count
        }
        payloadOffset = offset
        payloadLength = end - offset
    }

    /// The header, or nil for anything that is not an RTP packet.
    public init?(_ packet: ByteBuffer) {
        guard let header = try? RTPHeader(parsing: packet) else { return nil }
        self = header
    }
}

/// One RTP packet (RFC 3550 §5.1): its header and the payload as a slice of the received buffer
/// (CSRCs, header extension and padding removed; nothing copied). The header's fields read as
/// the packet's own (`packet.sequence`).
@dynamicMemberLookup
public struct RTPPacket: Sendable {
    /// As parsed; `payloadOffset` and `payloadLength` describe the bytes it was parsed from.
    public var header: RTPHeader
    public var payload: ByteBuffer

    @inlinable
    public subscript<T>(dynamicMember field: WritableKeyPath<RTPHeader, T>) -> T {
        get { header[keyPath: field] }
        set { header[keyPath: field] = newValue }
    }

    public init(marker: Bool, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32,
                payload: ByteBuffer) {
        header = RTPHeader(marker: marker, payloadType: payloadType, sequence: sequence, timestamp: timestamp,
                           ssrc: ssrc, payloadLength: payload.readableBytes)
        self.payload = payload
    }

    /// Parses a whole packet (a datagram, or one RFC 4571 frame).
    public init(parsing packet: ByteBuffer) throws(RTPError) {
        header = try RTPHeader(parsing: packet)
        payload = packet.getSlice(at: packet.readerIndex + header.payloadOffset, length: header.payloadLength) ?? ByteBuffer()
    }

    /// Serializes with version 2, no padding, CSRCs or extension.
    public func write(into out: inout ByteBuffer) {
        Self.writeHeader(marker: header.marker, payloadType: header.payloadType, sequence: header.sequence,
                         timestamp: header.timestamp, ssrc: header.ssrc, into: &out)
        out.writeImmutableBuffer(payload)
    }

    /// The one RTP header writer: version 2, no padding, extension or CSRCs (12 bytes).
    public static func writeHeader(marker: Bool, payloadType: UInt8, sequence: UInt16, timestamp: UInt32,
                                   ssrc: UInt32, into out: inout ByteBuffer) {
        let word: UInt64 = 0x80 << 56 | UInt64(payloadType & 0x7F | (marker ? 0x80 : 0)) << 48
            | UInt64(sequence) << 32 | UInt64(timestamp)
        out.writeInteger(word)
        out.writeInteger(ssrc)
    }
}

/// Cuts a payload (one PS pack sequence for one frame) into RTP packets of at most
/// `maxPayload` bytes; the marker bit is set on the last packet of each call.
public struct RTPPacketizer: Sendable {
    /// The one implementation of cutting a payload into packets; RFC 4571 framing is only how
    /// the packets are handed over here (split again into buffers of their own below).
    private var writer: RTPPacketWriter
    public var ssrc: UInt32 { writer.ssrc }
    public var payloadType: UInt8 { writer.payloadType }
    public var maxPayload: Int { writer.maxPayload }
    public var sequence: UInt16 { writer.sequence }

    /// `maxPayload` below `RTPPacketWriter.minMaxPayload` is raised to it (callers validate it;
    /// nothing here traps).
    public init(ssrc: UInt32, payloadType: UInt8 = 96, sequence: UInt16 = 0, maxPayload: Int = 1400) {
        writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: payloadType, ssrc: ssrc, sequence: sequence,
                                 maxPayload: min(maxPayload, RFC4571.maxFrame - 12))
    }

    /// One packet per `maxPayload` bytes, in order (slices of one buffer).
    public mutating func packetize(_ payload: ByteBuffer, timestamp: UInt32, marker: Bool = true,
                                   allocator: ByteBufferAllocator = ByteBufferAllocator()) -> [ByteBuffer] {
        let count = payload.readableBytes / writer.maxPayload + 1
        var framed = allocator.buffer(capacity: payload.readableBytes + count * 14)
        writer.writeFragmented(payload, marker: marker, timestamp: timestamp, into: &framed)
        var out: [ByteBuffer] = []
        out.reserveCapacity(count)
        while let length = framed.readInteger(as: UInt16.self), let packet = framed.readSlice(length: Int(length)) {
            out.append(packet)
        }
        return out
    }
}

/// RTP (and RTCP) over connection-oriented transport (RFC 4571): each packet is preceded by its
/// length as a 16-bit big-endian integer. GB28181 uses it for TCP passive and active.
public enum RFC4571 {
    public static let maxFrame = 65535

    /// Appends `packet` with its length prefix; a packet over 65535 bytes cannot be framed and is
    /// not written (false).
    @discardableResult
    public static func frame(_ packet: ByteBuffer, into out: inout ByteBuffer) -> Bool {
        guard let length = UInt16(exactly: packet.readableBytes) else { return false }
        out.writeInteger(length)
        out.writeImmutableBuffer(packet)
        return true
    }
}

/// Frames an RFC 4571 byte stream into packets. Every frame is at most 65535 bytes by
/// construction, so the decoder never holds more than one frame plus one read. Zero-length
/// frames (keep-alives some devices send) come out as empty buffers.
public struct RFC4571FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self).map(Int.init),
              let frame = buffer.getSlice(at: buffer.readerIndex + 2, length: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 2 + length)
        return frame
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}
