import NIOCore

/// AAC as RFC 3640 `mpeg4-generic`, mode AAC-hbr: a 16-bit AU-headers-length (in bits), then
/// one 16-bit AU header (13-bit AU size, 3-bit index 0) and the AU. An AU bigger than a packet
/// is fragmented: every fragment repeats the header with the whole AU's size and only the last
/// has the marker bit (§3.2.3.2).
public enum AACPacketizer {
    /// The largest AU a 13-bit size can describe.
    public static let maxAccessUnit = 8191

    public static func packetize(_ accessUnit: ByteBuffer, timestamp: UInt32,
                                 writer: inout RTPPacketWriter, into buffer: inout ByteBuffer) {
        let size = accessUnit.readableBytes
        guard size > 0, size <= maxAccessUnit else { return }
        let auHeader = UInt32(16) << 16 | UInt32(size) << 3
        let chunk = writer.maxPayload - 4
        var offset = 0
        while offset < size {
            let length = min(chunk, size - offset)
            let isLast = offset + length == size
            guard let part = accessUnit.getSlice(at: accessUnit.readerIndex + offset, length: length) else { return }
            writer.write(marker: isLast, timestamp: timestamp, into: &buffer) { out in
                out.writeInteger(auHeader)
                out.writeImmutableBuffer(part)
            }
            offset += length
        }
    }
}

/// G.711 (RFC 3551 §4.5.14): the samples as they are, one byte per sample per channel. A frame
/// bigger than a packet is split; each part's timestamp advances by the samples before it.
public enum G711Packetizer {
    public static func packetize(_ frame: ByteBuffer, timestamp: UInt32, channels: Int,
                                 writer: inout RTPPacketWriter, into buffer: inout ByteBuffer) {
        let channels = max(1, channels)
        let size = frame.readableBytes
        let chunk = writer.maxPayload / channels * channels
        var offset = 0
        while offset < size {
            let length = min(chunk, size - offset)
            guard let part = frame.getSlice(at: frame.readerIndex + offset, length: length) else { return }
            let ts = timestamp &+ UInt32(truncatingIfNeeded: offset / channels)
            writer.write(marker: false, timestamp: ts, into: &buffer) { $0.writeImmutableBuffer(part) }
            offset += length
        }
    }
}
