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

    /// The unity transformation matrix of `mvhd` and `tkhd` (§8.2.2: 16.16 and 2.30 fixed point).
    static func writeUnityMatrix(into buffer: inout ByteBuffer) {
        for value: UInt32 in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            buffer.writeInteger(value)
        }
    }

    static func writeZeros(_ count: Int, into buffer: inout ByteBuffer) {
        buffer.writeRepeatingByte(0, count: count)
    }

    /// An MPEG-4 descriptor (ISO/IEC 14496-1 §8.3.3: tag, expandable size) around `body`; the
    /// size is always written in its 4-byte form so it can be patched after the body.
    static func writeDescriptor(tag: UInt8, into buffer: inout ByteBuffer, body: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(tag)
        let sizeAt = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        body(&buffer)
        let size = UInt32(truncatingIfNeeded: buffer.writerIndex - sizeAt - 4) & 0x0FFF_FFFF
        buffer.setInteger(0x8080_8000 | (size << 3 & 0x7F00_0000) | (size << 2 & 0x007F_0000)
                          | (size << 1 & 0x0000_7F00) | (size & 0x7F), at: sizeAt)
    }
}
