import NIOCore

/// Cuts one RTMP message into chunks without copying its body: the chunk headers (and the few
/// bytes of FLV tag header in front of the body) go into one small buffer, and the body goes
/// out as slices of the frame's own storage, interleaved with the headers (the socket gathers
/// them with writev). So a frame shared by several consumers is never copied for the network.
///
/// Every message starts with a type 0 header and continues with type 3 headers; a timestamp
/// ≥ 0xFFFFFF is sent as an extended timestamp, repeated in each continuation (as FFmpeg,
/// librtmp and our relay expect).
public enum RTMPChunkWriter {
    /// Calls `emit` with the pieces of the message, in order; returns the number of bytes.
    ///
    /// Needs `chunkStreamID` in 2...63, `chunkSize` ≥ 64, `prefix` ≤ 32 bytes and a message of
    /// at most 24 bits; otherwise nothing is emitted and 0 returned (the message is dropped: an
    /// encoder's oversize frame must not trap the process).
    @discardableResult
    public static func write(chunkStreamID: UInt32, timestamp: UInt32, typeID: UInt8, messageStreamID: UInt32,
                             prefix: ByteBuffer, body: ByteBuffer, chunkSize: Int,
                             allocator: ByteBufferAllocator, emit: (ByteBuffer) -> Void) -> Int {
        let length = prefix.readableBytes + body.readableBytes
        guard (2...63).contains(chunkStreamID), chunkSize >= 64, prefix.readableBytes <= 32, length <= 0xFF_FFFF else {
            return 0
        }
        let extended = timestamp >= 0xFF_FFFF
        let chunks = max(1, (length + chunkSize - 1) / chunkSize)
        let continuationSize = 1 + (extended ? 4 : 0)

        var headers = allocator.buffer(capacity: 16 + prefix.readableBytes + (chunks - 1) * continuationSize)
        headers.writeInteger(UInt8(truncatingIfNeeded: chunkStreamID))  // format 0
        writeUInt24(extended ? 0xFF_FFFF : timestamp, into: &headers)
        writeUInt24(UInt32(truncatingIfNeeded: length), into: &headers)
        headers.writeInteger(typeID)
        headers.writeInteger(messageStreamID, endianness: .little)
        if extended { headers.writeInteger(timestamp) }
        headers.writeImmutableBuffer(prefix)
        let firstHeaderSize = headers.readableBytes
        for _ in 1..<chunks {
            headers.writeInteger(UInt8(0xC0) | UInt8(truncatingIfNeeded: chunkStreamID))  // format 3
            if extended { headers.writeInteger(timestamp) }
        }

        if let first = headers.getSlice(at: headers.readerIndex, length: firstHeaderSize) { emit(first) }
        var offset = body.readerIndex
        var remaining = body.readableBytes
        let firstBody = min(remaining, chunkSize - prefix.readableBytes)
        if firstBody > 0, let slice = body.getSlice(at: offset, length: firstBody) { emit(slice) }
        offset += firstBody
        remaining -= firstBody
        var headerOffset = headers.readerIndex + firstHeaderSize
        while remaining > 0 {
            if let header = headers.getSlice(at: headerOffset, length: continuationSize) { emit(header) }
            headerOffset += continuationSize
            let n = min(remaining, chunkSize)
            if let slice = body.getSlice(at: offset, length: n) { emit(slice) }
            offset += n
            remaining -= n
        }
        return headers.readableBytes + body.readableBytes
    }

    private static func writeUInt24(_ value: UInt32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(truncatingIfNeeded: value >> 16))
        buffer.writeInteger(UInt16(truncatingIfNeeded: value))
    }
}
