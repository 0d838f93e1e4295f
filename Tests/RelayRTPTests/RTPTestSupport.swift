import NIOCore
import RelayCore
import RelayRTP

/// Length-prefixed access unit from NAL units.
func accessUnit(_ nals: [[UInt8]]) -> ByteBuffer {
    AnnexB.lengthPrefixed(nals.map { ByteBuffer(bytes: $0) })
}

/// A test framing that tags each packet with a channel (like RTSP's interleaved framing), so the
/// tests see which writer wrote it: channel, 16-bit length, packet.
struct ChannelFraming: RTPFraming {
    let channel: UInt8

    func frame(into buffer: inout ByteBuffer, packet: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(channel)
        RFC4571Framing().frame(into: &buffer, packet: packet)
    }
}

extension RTPPacketWriter {
    init(channel: UInt8, payloadType: UInt8, ssrc: UInt32, sequence: UInt16, maxPayload: Int = 1400) {
        self.init(framing: ChannelFraming(channel: channel), payloadType: payloadType, ssrc: ssrc,
                  sequence: sequence, maxPayload: maxPayload)
    }
}

struct ParsedRTP {
    var channel: UInt8
    var header: RTPHeader
    var packet: RTPPacket
    var payload: [UInt8] { Array(packet.payload.readableBytesView) }
}

/// The packets of a `ChannelFraming` buffer.
func parseFrames(_ buffer: ByteBuffer) -> [ParsedRTP] {
    var rest = buffer
    var out: [ParsedRTP] = []
    while let channel = rest.readInteger(as: UInt8.self), let length = rest.readInteger(as: UInt16.self),
          let frame = rest.readSlice(length: Int(length)) {
        guard let header = RTPHeader(frame), let packet = try? RTPPacket(parsing: frame) else { continue }
        out.append(ParsedRTP(channel: channel, header: header, packet: packet))
    }
    return out
}

/// The NAL units of each access unit a depacketizer rebuilt from `packets`.
func depacketizeNALs(_ packets: [ParsedRTP], codec: NALPacketizer.Codec) throws -> (units: [[[UInt8]]], stats: RTPDepacketizerStats) {
    var d = H26xDepacketizer(codec: codec)
    var units: [[[UInt8]]] = []
    for p in packets {
        try d.push(p.packet) { units.append(try AnnexB.nalUnits(lengthPrefixed: $0.payload).map { Array($0.readableBytesView) }) }
    }
    try d.flush { units.append(try AnnexB.nalUnits(lengthPrefixed: $0.payload).map { Array($0.readableBytesView) }) }
    return (units, d.stats)
}
