import NIOCore

/// Cuts messages into chunks (RTMP spec 5.3).
///
/// Every message starts with a type 0 header: it costs a few bytes per message but makes each
/// message self-contained, so the relay can pre-encode a message once and send the same bytes to
/// every player regardless of what that player's chunk stream saw before. Continuations use
/// type 3 and repeat the extended timestamp, as FFmpeg, librtmp and Flash expect.
public enum RTMPChunkEncoder {
    /// Largest payload one message can carry: its length field has 24 bits.
    public static let maxPayloadLength = 0xFF_FFFF

    /// Appends `message` as chunks of at most `chunkSize` payload bytes; false (nothing
    /// written) if the message cannot be expressed, see the other `write`.
    @discardableResult
    public static func write(_ message: RTMPMessage, chunkSize: Int, into buffer: inout ByteBuffer) -> Bool {
        write(chunkStreamID: message.chunkStreamID, timestamp: message.timestamp, typeID: message.typeID,
              messageStreamID: message.messageStreamID, prefix: ByteBuffer(), body: message.payload,
              chunkSize: chunkSize, into: &buffer)
    }

    /// Appends one message whose payload is `prefix` followed by `body`, without concatenating
    /// them first (e.g. a 5-byte FLV video tag header + a shared frame slice). Neither input's
    /// reader index moves. Returns false and writes nothing when the message cannot be expressed
    /// (see the `emit` variant).
    @discardableResult
    public static func write(chunkStreamID: UInt32, timestamp: UInt32, typeID: UInt8, messageStreamID: UInt32,
                             prefix: ByteBuffer, body: ByteBuffer, chunkSize: Int, into buffer: inout ByteBuffer) -> Bool {
        buffer.reserveCapacity(minimumWritableBytes: encodedSize(
            payloadLength: prefix.readableBytes + body.readableBytes, chunkStreamID: chunkStreamID,
            timestamp: timestamp, chunkSize: chunkSize))
        let written = write(chunkStreamID: chunkStreamID, timestamp: timestamp, typeID: typeID,
                            messageStreamID: messageStreamID, prefix: prefix, body: body, chunkSize: chunkSize,
                            allocator: ByteBufferAllocator()) { buffer.writeImmutableBuffer($0) }
        return written > 0
    }

    /// Cuts one message into chunks without copying its payload: the chunk headers go into one
    /// small buffer, and `emit` gets, in order, slices of it interleaved with slices of `prefix`
    /// and `body` (a socket gathers them with writev, so a frame shared by several consumers is
    /// never copied for the network). Returns the number of bytes emitted.
    ///
    /// Emits nothing and returns 0 when the message cannot be expressed: a payload over
    /// `maxPayloadLength` (a frame grown past 24 bits, e.g. by a NAL length rewrite) or a chunk
    /// stream ID outside 2...65599. Callers drop such a message; it must never trap, since
    /// payload sizes come from publishers. A `chunkSize` below 1 is taken as 1.
    @discardableResult
    public static func write(chunkStreamID: UInt32, timestamp: UInt32, typeID: UInt8, messageStreamID: UInt32,
                             prefix: ByteBuffer, body: ByteBuffer, chunkSize: Int,
                             allocator: ByteBufferAllocator, emit: (ByteBuffer) -> Void) -> Int {
        let chunkSize = max(chunkSize, 1)
        let length = prefix.readableBytes + body.readableBytes
        guard length <= maxPayloadLength, (2...65599).contains(chunkStreamID) else { return 0 }
        let extended = timestamp >= 0xFF_FFFF
        let chunks = max(1, (length + chunkSize - 1) / chunkSize)
        let continuationSize = basicHeaderSize(chunkStreamID) + (extended ? 4 : 0)
        let firstHeaderSize = continuationSize + 11

        var headers = allocator.buffer(capacity: firstHeaderSize + (chunks - 1) * continuationSize)
        writeBasicHeader(format: 0, chunkStreamID: chunkStreamID, into: &headers)
        writeUInt24(extended ? 0xFF_FFFF : timestamp, into: &headers)
        writeUInt24(UInt32(truncatingIfNeeded: length), into: &headers)
        headers.writeInteger(typeID)
        headers.writeInteger(messageStreamID, endianness: .little)
        if extended { headers.writeInteger(timestamp) }
        for _ in 1..<chunks {
            writeBasicHeader(format: 3, chunkStreamID: chunkStreamID, into: &headers)
            if extended { headers.writeInteger(timestamp) }
        }

        var prefix = prefix
        var body = body
        var remaining = length
        var headerOffset = headers.readerIndex
        var headerSize = firstHeaderSize
        repeat {
            if let header = headers.getSlice(at: headerOffset, length: headerSize) { emit(header) }
            headerOffset += headerSize
            headerSize = continuationSize
            var room = min(chunkSize, remaining)
            remaining -= room
            let fromPrefix = min(room, prefix.readableBytes)
            if fromPrefix > 0, let slice = prefix.readSlice(length: fromPrefix) {
                emit(slice)
                room -= fromPrefix
            }
            if room > 0, let slice = body.readSlice(length: room) {  // room ≤ what is left of body
                emit(slice)
            }
        } while remaining > 0
        return headers.readableBytes + length
    }

    /// Exact number of bytes `write` appends for a payload of `payloadLength` bytes.
    public static func encodedSize(payloadLength: Int, chunkStreamID: UInt32, timestamp: UInt32, chunkSize: Int) -> Int {
        let chunkSize = max(chunkSize, 1)
        let chunks = max(1, (payloadLength + chunkSize - 1) / chunkSize)
        let basic = basicHeaderSize(chunkStreamID)
        let extended = timestamp >= 0xFF_FFFF ? 4 : 0
        return payloadLength + (basic + 11 + extended) + (chunks - 1) * (basic + extended)
    }

    static func basicHeaderSize(_ chunkStreamID: UInt32) -> Int {
        chunkStreamID < 64 ? 1 : chunkStreamID < 320 ? 2 : 3
    }

    /// `chunkStreamID` is in 2...65599 (checked by `write`).
    private static func writeBasicHeader(format: UInt8, chunkStreamID: UInt32, into buffer: inout ByteBuffer) {
        switch chunkStreamID {
        case ..<64:
            buffer.writeInteger(format << 6 | UInt8(truncatingIfNeeded: chunkStreamID))
        case ..<320:
            buffer.writeInteger(format << 6)
            buffer.writeInteger(UInt8(truncatingIfNeeded: chunkStreamID &- 64))
        default:
            buffer.writeInteger(format << 6 | 1)
            buffer.writeInteger(UInt16(truncatingIfNeeded: chunkStreamID &- 64), endianness: .little)
        }
    }

    private static func writeUInt24(_ value: UInt32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(truncatingIfNeeded: value >> 16))
        buffer.writeInteger(UInt16(truncatingIfNeeded: value))
    }
}
