import NIOCore

/// RTSP interleaved framing (RFC 2326 §10.12): `$`, channel, 16-bit length, packet. The RTP
/// muxer writes every RTP/RTCP packet this way, so one segment serves RTSP TCP players as is and
/// UDP players (RTSP, WebRTC) as a list of datagrams.
public enum Interleaved {
    public static let magic = UInt8(ascii: "$")

    /// Writes one framed packet; `body` appends the packet, whose length is patched in after.
    public static func write(channel: UInt8, into buffer: inout ByteBuffer, body: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(magic)
        buffer.writeInteger(channel)
        RFC4571Framing().frame(into: &buffer, packet: body)  // the same 16-bit length framing
    }

    /// Reads one framed packet as a slice (no copy); nil (and nothing read) at the end or at
    /// anything that is not a complete frame.
    public static func readFrame(from buffer: inout ByteBuffer) -> (channel: UInt8, packet: ByteBuffer)? {
        let at = buffer.readerIndex
        guard buffer.readableBytes >= 4, buffer.getInteger(at: at, as: UInt8.self) == magic,
              let channel = buffer.getInteger(at: at + 1, as: UInt8.self),
              let length = buffer.getInteger(at: at + 2, as: UInt16.self),
              let packet = buffer.getSlice(at: at + 4, length: Int(length)) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4 + Int(length))
        return (channel, packet)
    }
}

/// Walks the framed packets of a segment as slices of it (no copy). Stops at the end or at
/// anything that is not a complete frame.
public struct InterleavedFrames: Sequence, IteratorProtocol {
    private var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer) { self.buffer = buffer }

    public mutating func next() -> (channel: UInt8, packet: ByteBuffer)? {
        Interleaved.readFrame(from: &buffer)
    }
}

/// RTP packets framed on an interleaved channel: what the RTP muxer writes for every player.
public struct InterleavedFraming: RTPFraming {
    public let channel: UInt8

    public init(channel: UInt8) { self.channel = channel }

    public func frame(into buffer: inout ByteBuffer, packet: (inout ByteBuffer) -> Void) {
        Interleaved.write(channel: channel, into: &buffer, body: packet)
    }
}

extension RTPPacketWriter {
    /// A writer whose packets are framed on interleaved `channel`.
    public init(channel: UInt8, payloadType: UInt8, ssrc: UInt32, sequence: UInt16,
                maxPayload: Int = RTPPacketWriter.defaultMaxPayload) {
        self.init(framing: InterleavedFraming(channel: channel), payloadType: payloadType, ssrc: ssrc,
                  sequence: sequence, maxPayload: maxPayload)
    }
}
