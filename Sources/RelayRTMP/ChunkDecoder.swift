import NIOCore

/// Reassembles RTMP messages from the chunk stream (RTMP spec 5.3), as a pure state machine.
///
/// Feed it the receive buffer; it consumes whole chunks only (a chunk is taken once its header
/// and payload are both available), so input may be split at any byte and `nil` just means
/// "call again with more bytes". Set Chunk Size and Abort are applied here, as soon as they
/// complete, because they change how the very next chunk is parsed; they are still returned.
public struct RTMPChunkDecoder: Sendable {
    /// Longest media message (audio 8, video 9, aggregate 22). Settable: a server starts a
    /// connection with tiny limits and raises them after `connect`.
    public var maxMessageSize: Int
    /// Longest message of any other type (commands, data, shared objects, control). AMF
    /// bodies cost far more to decode than to send, so they get a much smaller cap.
    public var maxCommandSize: Int
    /// Largest chunk size a peer may set; bounds how much one chunk can make us buffer.
    public let maxChunkSize: Int
    public let maxChunkStreams: Int
    /// Bound on the bytes held for unfinished messages (as received, not as announced), so a
    /// peer cannot open many chunk streams each sending most of a large message.
    public let maxPendingBytes: Int
    /// Incoming chunk size, as last set by the peer.
    public private(set) var chunkSize: Int = 128

    private var streams: [ChunkStream] = []
    /// Bytes of the multi-chunk message being assembled per chunk stream (same index as
    /// `streams`); kept apart so copying a header state never shares the buffer, which would
    /// make appending to it copy-on-write.
    private var partials: [ByteBuffer?] = []
    private var streamIndex: [UInt32: Int] = [:]
    /// Bytes held in `partials`.
    private var pendingBytes = 0
    private let allocator: ByteBufferAllocator

    public init(maxMessageSize: Int = 8 << 20, maxCommandSize: Int? = nil, maxChunkSize: Int = 16 << 20,
                maxChunkStreams: Int = 64, maxPendingBytes: Int? = nil,
                allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.maxMessageSize = maxMessageSize
        self.maxCommandSize = maxCommandSize ?? maxMessageSize
        self.maxChunkSize = maxChunkSize
        self.maxChunkStreams = maxChunkStreams
        self.maxPendingBytes = maxPendingBytes ?? 4 * maxMessageSize
        self.allocator = allocator
    }

    /// Media types carry frames and may be large; everything else is capped by `maxCommandSize`.
    static func isMedia(_ typeID: UInt8) -> Bool {
        typeID == RTMPMessageType.audio.rawValue || typeID == RTMPMessageType.video.rawValue
            || typeID == RTMPMessageType.aggregate.rawValue
    }

    /// Per chunk stream: the last header (later headers inherit from it) and the message being
    /// assembled.
    private struct ChunkStream {
        var timestamp: UInt32 = 0
        /// Delta a type 3 header starting a new message applies. After a type 0 header it is
        /// that header's timestamp (spec 5.3.1.2.4).
        var delta: UInt32 = 0
        var length = 0
        var typeID: UInt8 = 0
        var messageStreamID: UInt32 = 0
        /// The last type 0/1/2 header used an extended timestamp, so type 3 chunks carry
        /// (or, from some encoders, omit) one too.
        var hasExtendedTimestamp = false
        var extendedTimestamp: UInt32 = 0
    }

    /// A fully available chunk header, parsed without consuming anything.
    private struct Header {
        var format: UInt8
        var chunkStreamID: UInt32
        var size: Int
        var timestampField: UInt32 = 0
        var length = 0
        var typeID: UInt8 = 0
        var messageStreamID: UInt32 = 0
        var extendedTimestamp: UInt32?
    }

    private enum Step {
        case needMoreData
        case consumedChunk
        case message(RTMPMessage)
    }

    /// Returns the next complete message, or nil when more bytes are needed. Consumed bytes are
    /// read from `buffer`; the rest (a partial chunk) stays for the next call.
    public mutating func next(from buffer: inout ByteBuffer) throws(RTMPError) -> RTMPMessage? {
        while true {
            switch try readChunk(from: &buffer) {
            case .needMoreData: return nil
            case .consumedChunk: continue
            case .message(let message):
                try apply(message)
                return message
            }
        }
    }

    // MARK: - Chunk parsing

    private mutating func readChunk(from buffer: inout ByteBuffer) throws(RTMPError) -> Step {
        let start = buffer.readerIndex
        guard let header = try peekHeader(buffer, at: start) else { return .needMoreData }
        let csid = header.chunkStreamID
        let existing = streamIndex[csid]
        let previous = existing.map { streams[$0] } ?? ChunkStream()
        let partialBytes = existing.flatMap { partials[$0]?.readableBytes }
        let continuing = header.format == 3 && partialBytes != nil

        // Resolve the header against the previous one into the message's fields.
        var state = previous
        if !continuing {
            switch header.format {
            case 0:
                state.timestamp = header.extendedTimestamp ?? header.timestampField
                state.delta = state.timestamp
                state.length = header.length
                state.typeID = header.typeID
                state.messageStreamID = header.messageStreamID
            case 1, 2:
                state.delta = header.extendedTimestamp ?? header.timestampField
                state.timestamp = previous.timestamp &+ state.delta
                if header.format == 1 {
                    state.length = header.length
                    state.typeID = header.typeID
                }
            default:
                if let extended = header.extendedTimestamp { state.delta = extended }
                state.timestamp = previous.timestamp &+ state.delta
            }
            if header.format != 3 {
                state.hasExtendedTimestamp = header.timestampField == 0xFFFFFF
            }
            if let extended = header.extendedTimestamp { state.extendedTimestamp = extended }
            // Checked as soon as the header announces the length, before any of it is buffered.
            if Self.isMedia(state.typeID) {
                guard state.length <= maxMessageSize else {
                    throw .messageTooLarge(length: state.length, limit: maxMessageSize)
                }
            } else if state.length > maxCommandSize {
                throw .commandTooLarge(typeID: state.typeID, length: state.length, limit: maxCommandSize)
            }
        }

        let received = continuing ? (partialBytes ?? 0) : 0
        let chunkLength = min(chunkSize, state.length - received)
        guard buffer.readableBytes >= header.size + chunkLength else { return .needMoreData }

        // Commit: from here on the chunk is consumed.
        let index: Int
        if let existing {
            index = existing
        } else {
            guard streams.count < maxChunkStreams else { throw .tooManyChunkStreams(limit: maxChunkStreams) }
            index = streams.count
            streams.append(ChunkStream())
            partials.append(nil)
            streamIndex[csid] = index
        }
        if !continuing, let abandoned = partialBytes {
            // A new header mid-message: the peer gave up on the old one, like an implicit Abort.
            partials[index] = nil
            pendingBytes -= abandoned
        }
        streams[index] = state
        buffer.moveReaderIndex(forwardBy: header.size)
        guard let chunk = buffer.readSlice(length: chunkLength) else { return .needMoreData }  // checked above

        if !continuing, chunkLength == state.length {
            // Single-chunk message: hand out the slice, no copy.
            return .message(RTMPMessage(chunkStreamID: csid, timestamp: state.timestamp, typeID: state.typeID,
                                        messageStreamID: state.messageStreamID, payload: chunk))
        }
        guard pendingBytes + chunkLength <= maxPendingBytes else {
            throw .tooMuchPendingData(bytes: pendingBytes + chunkLength, limit: maxPendingBytes)
        }
        pendingBytes += chunkLength
        // Memory follows the bytes that really arrived, never the announced length: a header
        // claiming 8 MiB followed by silence costs one chunk. Growth doubles (linear copying)
        // and stops at the message length.
        var assembly = partials[index] ?? allocator.buffer(capacity: 0)
        partials[index] = nil  // keep `assembly` uniquely referenced: appending must not copy
        if assembly.writableBytes < chunkLength {
            let wanted = max(assembly.readableBytes * 2, assembly.readableBytes + chunkLength)
            assembly.reserveCapacity(minimumWritableBytes: min(wanted, state.length) - assembly.readableBytes)
        }
        assembly.writeImmutableBuffer(chunk)
        guard assembly.readableBytes == state.length else {
            partials[index] = assembly
            return .consumedChunk
        }
        pendingBytes -= assembly.readableBytes
        return .message(RTMPMessage(chunkStreamID: csid, timestamp: state.timestamp, typeID: state.typeID,
                                    messageStreamID: state.messageStreamID, payload: assembly))
    }

    /// Parses the basic + message header (+ extended timestamp) at `start`, or returns nil if
    /// not all of it has arrived.
    private func peekHeader(_ buffer: ByteBuffer, at start: Int) throws(RTMPError) -> Header? {
        let available = buffer.readableBytes
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        let format = first >> 6
        var header = Header(format: format, chunkStreamID: UInt32(first & 0x3F), size: 1)
        switch first & 0x3F {
        case 0:
            guard let byte = buffer.getInteger(at: start + 1, as: UInt8.self) else { return nil }
            header.chunkStreamID = 64 + UInt32(byte)
            header.size = 2
        case 1:
            guard let low = buffer.getInteger(at: start + 1, as: UInt8.self),
                  let high = buffer.getInteger(at: start + 2, as: UInt8.self) else { return nil }
            header.chunkStreamID = 64 + UInt32(low) + UInt32(high) << 8
            header.size = 3
        default:
            break
        }

        let index = streamIndex[header.chunkStreamID]
        let stream = index.map { streams[$0] }
        if stream == nil, format != 0, !(format == 1 && header.chunkStreamID == 2) {
            // librtmp sends its pings with a type 1 header on a fresh chunk stream 2; the type 1
            // header carries everything but the stream ID, which is 0 for control messages.
            throw .missingPreviousHeader(chunkStreamID: header.chunkStreamID, format: format)
        }

        let fieldsAt = start + header.size
        switch format {
        case 0, 1, 2:
            let fieldsSize = format == 0 ? 11 : format == 1 ? 7 : 3
            guard available >= header.size + fieldsSize else { return nil }
            header.timestampField = readUInt24(buffer, at: fieldsAt)
            // All of the fields are in the buffer (checked above); `?? 0` only avoids `!`.
            if format < 2 {
                header.length = Int(readUInt24(buffer, at: fieldsAt + 3))
                header.typeID = buffer.getInteger(at: fieldsAt + 6, as: UInt8.self) ?? 0
            }
            if format == 0 {
                header.messageStreamID = buffer.getInteger(at: fieldsAt + 7, endianness: .little, as: UInt32.self) ?? 0
            }
            header.size += fieldsSize
            if header.timestampField == 0xFFFFFF {
                guard let extended = buffer.getInteger(at: start + header.size, as: UInt32.self) else { return nil }
                header.extendedTimestamp = extended
                header.size += 4
            }
        default:
            guard let stream, let index, stream.hasExtendedTimestamp else { break }
            if partials[index] == nil {
                // A type 3 header starting a message must carry the extended timestamp.
                guard let extended = buffer.getInteger(at: fieldsAt, as: UInt32.self) else { return nil }
                header.extendedTimestamp = extended
                header.size += 4
            } else {
                // Continuation: FFmpeg/librtmp repeat the extended timestamp, some encoders do
                // not. It is present iff the next bytes equal the value last sent.
                switch peekRepeatedTimestamp(buffer, at: fieldsAt, expected: stream.extendedTimestamp) {
                case nil: return nil
                case true?: header.size += 4
                case false?: break
                }
            }
        }
        return header
    }

    /// true/false once the bytes at `offset` decide whether they repeat `expected`; nil while
    /// the bytes so far match but fewer than 4 have arrived.
    private func peekRepeatedTimestamp(_ buffer: ByteBuffer, at offset: Int, expected: UInt32) -> Bool? {
        for i in 0..<4 {
            guard let byte = buffer.getInteger(at: offset + i, as: UInt8.self) else { return nil }
            if byte != UInt8(truncatingIfNeeded: expected >> (24 - 8 * i)) { return false }
        }
        return true
    }

    /// The caller has checked the 3 bytes are there; missing bytes would read as 0.
    private func readUInt24(_ buffer: ByteBuffer, at offset: Int) -> UInt32 {
        let high = buffer.getInteger(at: offset, as: UInt8.self) ?? 0
        let low = buffer.getInteger(at: offset + 1, as: UInt16.self) ?? 0
        return UInt32(high) << 16 | UInt32(low)
    }

    // MARK: - Protocol control applied by the decoder

    private mutating func apply(_ message: RTMPMessage) throws(RTMPError) {
        switch message.typeID {
        case RTMPMessageType.setChunkSize.rawValue:
            guard let raw = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw .truncatedPayload(typeID: message.typeID)
            }
            let size = raw & 0x7FFF_FFFF  // the top bit is reserved (must be 0)
            guard size > 0, Int(size) <= maxChunkSize else { throw .badChunkSize(raw) }
            chunkSize = Int(size)
        case RTMPMessageType.abort.rawValue:
            guard let csid = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw .truncatedPayload(typeID: message.typeID)
            }
            if let index = streamIndex[csid], let abandoned = partials[index]?.readableBytes {
                partials[index] = nil
                pendingBytes -= abandoned
            }
        default:
            break
        }
    }
}
