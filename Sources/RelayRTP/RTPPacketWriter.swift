import NIOCore

/// How each RTP packet is framed in an output buffer: RFC 4571 (GB28181 TCP), RTSP interleaved
/// (`$`, channel, length; in RelayRTSP), … The packet is appended in place, so a packetizer
/// writes a whole access unit into one buffer without a copy per packet.
public protocol RTPFraming: Sendable {
    /// Appends one framed packet; `packet` appends the RTP packet itself.
    func frame(into buffer: inout ByteBuffer, packet: (inout ByteBuffer) -> Void)
}

/// RFC 4571 framing: a 16-bit length before each packet.
public struct RFC4571Framing: RTPFraming {
    public init() {}

    public func frame(into buffer: inout ByteBuffer, packet: (inout ByteBuffer) -> Void) {
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        let start = buffer.writerIndex
        packet(&buffer)
        buffer.setInteger(UInt16(truncatingIfNeeded: buffer.writerIndex - start), at: lengthAt)
    }
}

/// Writes one track's RTP packets (RFC 3550 §5.1: version 2, no padding, extension or CSRCs),
/// each framed by `framing`, and keeps the sender statistics RTCP needs.
public struct RTPPacketWriter: Sendable {
    public let framing: any RTPFraming
    public let payloadType: UInt8
    public let ssrc: UInt32
    /// Largest RTP payload. 1400 keeps a UDP datagram (12-byte RTP header + IP/UDP headers)
    /// under a 1500-byte Ethernet MTU, with room for tunnels.
    public let maxPayload: Int
    public private(set) var sequence: UInt16
    public private(set) var packetCount: UInt32 = 0
    public private(set) var octetCount: UInt32 = 0

    public static let defaultMaxPayload = 1400
    /// Room for the largest packetization header (H.265 FU: 3 bytes) and some payload.
    public static let minMaxPayload = 16

    /// `maxPayload` below `minMaxPayload` is raised to it (callers validate; nothing traps).
    public init(framing: any RTPFraming, payloadType: UInt8, ssrc: UInt32, sequence: UInt16,
                maxPayload: Int = RTPPacketWriter.defaultMaxPayload) {
        self.framing = framing
        self.payloadType = payloadType
        self.ssrc = ssrc
        self.sequence = sequence
        self.maxPayload = max(maxPayload, Self.minMaxPayload)
    }

    /// Appends one packet; `payload` writes at most `maxPayload` bytes.
    public mutating func write(marker: Bool, timestamp: UInt32, into buffer: inout ByteBuffer,
                               payload: (inout ByteBuffer) -> Void) {
        var written = 0
        let (payloadType, sequence, ssrc) = (self.payloadType, self.sequence, self.ssrc)
        framing.frame(into: &buffer) { out in
            RTPPacket.writeHeader(marker: marker, payloadType: payloadType, sequence: sequence,
                                  timestamp: timestamp, ssrc: ssrc, into: &out)
            let start = out.writerIndex
            payload(&out)
            written = out.writerIndex - start
        }
        self.sequence &+= 1
        packetCount &+= 1
        octetCount &+= UInt32(truncatingIfNeeded: written)
    }
}
