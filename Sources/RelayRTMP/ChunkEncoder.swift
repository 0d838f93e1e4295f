import NIOCore

/// Cuts messages into chunks (RTMP spec 5.3).
///
/// Every message starts with a type 0 header: it costs a few bytes per message but makes each
/// message self-contained, so the relay can pre-encode a message once and send the same bytes to
/// every player regardless of what that player's chunk stream saw before. Continuations use
/// type 3 and repeat the extended timestamp, as FFmpeg, librtmp and Flash expect.
public enum RTMPChunkEncoder {
    /// Appends `message` as chunks of at most `chunkSize` payload bytes.
    public static func write(_ message: RTMPMessage, chunkSize: Int, into buffer: inout ByteBuffer) {
        write(chunkStreamID: message.chunkStreamID, timestamp: message.timestamp, typeID: message.typeID,
              messageStreamID: message.messageStreamID, prefix: ByteBuffer(), body: message.payload,
              chunkSize: chunkSize, into: &buffer)
    }

    /// Appends one message whose payload is `prefix` followed by `body`, without concatenating
    /// them first (e.g. a 5-byte FLV video tag header + a shared frame slice). Neither input's
    /// reader index moves.
    ///
    /// - Precondition: `chunkStreamID` in 2...65599, `chunkSize` ≥ 1, payload ≤ 0xFFFFFF bytes.
    public static func write(chunkStreamID: UInt32, timestamp: UInt32, typeID: UInt8, messageStreamID: UInt32,
                             prefix: ByteBuffer, body: ByteBuffer, chunkSize: Int, into buffer: inout ByteBuffer) {
        precondition(chunkSize >= 1, "RTMP chunk size must be positive")
        let length = prefix.readableBytes + body.readableBytes
        precondition(length <= 0xFF_FFFF, "RTMP message longer than 24 bits")
        buffer.reserveCapacity(minimumWritableBytes: encodedSize(payloadLength: length, chunkStreamID: chunkStreamID,
                                                                 timestamp: timestamp, chunkSize: chunkSize))
        let extended = timestamp >= 0xFF_FFFF

        writeBasicHeader(format: 0, chunkStreamID: chunkStreamID, into: &buffer)
        writeUInt24(extended ? 0xFF_FFFF : timestamp, into: &buffer)
        writeUInt24(UInt32(length), into: &buffer)
        buffer.writeInteger(typeID)
        buffer.writeInteger(messageStreamID, endianness: .little)
        if extended { buffer.writeInteger(timestamp) }

        var prefix = prefix
        var body = body
        var remaining = length
        var first = true
        while first || remaining > 0 {
            if !first {
                writeBasicHeader(format: 3, chunkStreamID: chunkStreamID, into: &buffer)
                if extended { buffer.writeInteger(timestamp) }
            }
            first = false
            var room = min(chunkSize, remaining)
            remaining -= room
            let fromPrefix = min(room, prefix.readableBytes)
            if fromPrefix > 0 {
                buffer.writeImmutableBuffer(prefix.readSlice(length: fromPrefix)!)
                room -= fromPrefix
            }
            if room > 0 {
                buffer.writeImmutableBuffer(body.readSlice(length: room)!)
            }
        }
    }

    /// Exact number of bytes `write` appends for a payload of `payloadLength` bytes.
    public static func encodedSize(payloadLength: Int, chunkStreamID: UInt32, timestamp: UInt32, chunkSize: Int) -> Int {
        let chunks = max(1, (payloadLength + chunkSize - 1) / chunkSize)
        let basic = basicHeaderSize(chunkStreamID)
        let extended = timestamp >= 0xFF_FFFF ? 4 : 0
        return payloadLength + (basic + 11 + extended) + (chunks - 1) * (basic + extended)
    }

    static func basicHeaderSize(_ chunkStreamID: UInt32) -> Int {
        chunkStreamID < 64 ? 1 : chunkStreamID < 320 ? 2 : 3
    }

    private static func writeBasicHeader(format: UInt8, chunkStreamID: UInt32, into buffer: inout ByteBuffer) {
        precondition((2...65599).contains(chunkStreamID), "RTMP chunk stream ID out of range")
        switch chunkStreamID {
        case ..<64:
            buffer.writeInteger(format << 6 | UInt8(chunkStreamID))
        case ..<320:
            buffer.writeInteger(format << 6)
            buffer.writeInteger(UInt8(chunkStreamID - 64))
        default:
            buffer.writeInteger(format << 6 | 1)
            buffer.writeInteger(UInt16(chunkStreamID - 64), endianness: .little)
        }
    }

    private static func writeUInt24(_ value: UInt32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(truncatingIfNeeded: value >> 16))
        buffer.writeInteger(UInt16(truncatingIfNeeded: value))
    }
}
