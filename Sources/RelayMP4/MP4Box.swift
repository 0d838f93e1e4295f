import NIOCore

/// ISO BMFF box writing (ISO/IEC 14496-12 §4.2): a box is a 32-bit size, a four-character type
/// and its body; the size is patched in once the body is written, so nested boxes need no
/// precomputed lengths.
enum MP4Box {
    /// Writes `type` with the body `body` appends; returns the box's start offset.
    @discardableResult
    static func write(_ type: StaticString, into buffer: inout ByteBuffer, body: (inout ByteBuffer) -> Void) -> Int {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        writeFourCC(type, into: &buffer)
        body(&buffer)
        patchSize(at: start, in: &buffer)
        return start
    }

    /// A full box: version and 24-bit flags before the body.
    @discardableResult
    static func writeFull(_ type: StaticString, version: UInt8, flags: UInt32, into buffer: inout ByteBuffer,
                          body: (inout ByteBuffer) -> Void) -> Int {
        write(type, into: &buffer) {
            $0.writeInteger(UInt32(version) << 24 | (flags & 0xFF_FFFF))
            body(&$0)
        }
    }

    static func writeFourCC(_ code: StaticString, into buffer: inout ByteBuffer) {
        code.withUTF8Buffer { bytes in
            for i in 0..<4 { buffer.writeInteger(i < bytes.count ? bytes[i] : 0x20) }
        }
    }

    /// Sets the 32-bit size of the box that starts at `start` to what was written since.
    static func patchSize(at start: Int, in buffer: inout ByteBuffer) {
        let size = buffer.writerIndex - start
        buffer.setInteger(UInt32(truncatingIfNeeded: size), at: start)
    }
}
