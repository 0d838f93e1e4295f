import NIOCore

/// Writes one track's RTP packets (RFC 3550 §5.1: version 2, no padding, extension or CSRCs),
/// each framed on the track's interleaved channel, and keeps the sender statistics RTCP needs.
public struct RTPPacketWriter: Sendable {
    public let channel: UInt8
    public let payloadType: UInt8
    public let ssrc: UInt32
    /// Largest RTP payload. 1400 keeps a UDP datagram (12-byte RTP header + IP/UDP headers)
    /// under a 1500-byte Ethernet MTU, with room for tunnels.
    public let maxPayload: Int
    public private(set) var sequence: UInt16
    public private(set) var packetCount: UInt32 = 0
    public private(set) var octetCount: UInt32 = 0

    public static let defaultMaxPayload = 1400

    public init(channel: UInt8, payloadType: UInt8, ssrc: UInt32, sequence: UInt16,
                maxPayload: Int = RTPPacketWriter.defaultMaxPayload) {
        precondition(maxPayload >= 16, "RTP payload size too small for any packetization header")
        self.channel = channel
        self.payloadType = payloadType
        self.ssrc = ssrc
        self.sequence = sequence
        self.maxPayload = maxPayload
    }

    /// Appends one packet; `payload` writes at most `maxPayload` bytes.
    public mutating func write(marker: Bool, timestamp: UInt32, into buffer: inout ByteBuffer,
                               payload: (inout ByteBuffer) -> Void) {
        var written = 0
        let header: UInt64 = 0x80 << 56 | UInt64(payloadType | (marker ? 0x80 : 0)) << 48
            | UInt64(sequence) << 32 | UInt64(timestamp)
        let ssrc = self.ssrc
        Interleaved.write(channel: channel, into: &buffer) { out in
            out.writeInteger(header)
            out.writeInteger(ssrc)
            let start = out.writerIndex
            payload(&out)
            written = out.writerIndex - start
        }
        sequence &+= 1
        packetCount &+= 1
        octetCount &+= UInt32(truncatingIfNeeded: written)
    }
}

/// The fixed RTP header fields of a packet, read without copying.
public struct RTPHeader: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequence: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    /// Offset of the payload within the packet (after CSRCs and any header extension).
    public var payloadOffset: Int

    public init?(_ packet: ByteBuffer) {
        let at = packet.readerIndex
        guard packet.readableBytes >= 12, let b0 = packet.getInteger(at: at, as: UInt8.self), b0 >> 6 == 2,
              let b1 = packet.getInteger(at: at + 1, as: UInt8.self),
              let sequence = packet.getInteger(at: at + 2, as: UInt16.self),
              let timestamp = packet.getInteger(at: at + 4, as: UInt32.self),
              let ssrc = packet.getInteger(at: at + 8, as: UInt32.self) else { return nil }
        marker = b1 & 0x80 != 0
        payloadType = b1 & 0x7F
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        var offset = 12 + 4 * Int(b0 & 0x0F)
        if b0 & 0x10 != 0 {
            guard let words = packet.getInteger(at: at + offset + 2, as: UInt16.self) else { return nil }
            offset += 4 + 4 * Int(words)
        }
        guard offset <= packet.readableBytes else { return nil }
        payloadOffset = offset
    }
}
