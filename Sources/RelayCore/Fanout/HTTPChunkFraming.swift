import NIOCore

/// HTTP/1.1 chunked framing written in place around a TransStream segment, so that a segment is
/// one HTTP chunk shared by every player (HTTP-FLV, HTTP fMP4): `Muxer.segmentPrefixSize` reserves
/// the size line, `finish` fills it and appends the chunk's CRLF.
public enum HTTPChunkFraming {
    /// "%08x\r\n": a fixed-width chunk-size line (leading zeros are valid HTTP/1.1) so it can be
    /// reserved before the segment's size is known.
    public static let prefixSize = 10

    /// The chunk that ends the body.
    public static var lastChunk: ByteBuffer { ByteBuffer(string: "0\r\n\r\n") }

    /// Fills the reserved size line of `buffer` (whose readable bytes start with it) and appends CRLF.
    public static func finish(_ buffer: inout ByteBuffer) {
        let size = buffer.readableBytes - prefixSize
        let start = buffer.readerIndex
        for i in 0..<8 {
            let nibble = (size >> ((7 - i) * 4)) & 0xF
            buffer.setInteger(UInt8(nibble < 10 ? 0x30 + nibble : 0x57 + nibble), at: start + i)
        }
        buffer.setInteger(UInt16(0x0D0A), at: start + 8)
        buffer.writeInteger(UInt16(0x0D0A))
    }
}
