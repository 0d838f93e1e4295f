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
    /// reader index moves.
    ///
    /// Returns false and writes nothing when the message cannot be expressed: a payload over
    /// `maxPayloadLength` (a frame grown past 24 bits, e.g. by a NAL length rewrite) or a chunk
    /// stream ID outside 2...65599. Callers drop such a message; it must never trap, since
    /// payload sizes come from publishers. A `chunkSize` below 1 is taken as 1.
    @discardableResult
    public static func write(chunkStreamID: UInt32, timestamp: UInt32, typeID: UInt8, messageStreamID: UInt32,
                             prefix: ByteBuffer, body: ByteBuffer, chunkSize: Int, into buffer: inout ByteBuffer) -> Bool {
        let chunkSize = max(chunkSize, 1)
        let length = prefix.readableBytes + body.readableBytes
        guard length <= maxPayloadLength, (2...65599).contains(chunkStreamID) else { return false }
        buffer.reserveCapacity(minimumWritableBytes: encodedSize(payloadLength: length, chunkStreamID: chunkStreamID,
                                                                 timestamp: timestamp, chunkSize: chunkSize))
        let extended = timestamp >= 0xFF_FFFF

        writeBasicHeader(format: 0, chunkStreamID: chunkStreamID, into: &buffer)
        writeUInt24(extended ? 0xFF_FFFF : timestamp, into: &buffer)
        writeUInt24(UInt32(truncatingIfNeeded: length), into: &buffer)
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
            if fromPrefix > 0, let slice = prefix.readSlice(length: fromPrefix) {
                buffer.writeImmutableBuffer(slice)
                room -= fromPrefix
            }
            if room > 0, let slice = body.readSlice(length: room) {  // room ≤ what is left of body
                buffer.writeImmutableBuffer(slice)
            }
        }
        return true
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
