import RelayFLV

/// Protocol errors of the RTMP primitives. Each one means the peer broke the protocol (or a
/// limit), so the connection should be closed; `description` is meant for that log line.
public enum RTMPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A media message header announced more bytes than `maxMessageSize`.
    case messageTooLarge(length: Int, limit: Int)
    /// A command, data or control message header announced more bytes than `maxCommandSize`.
    case commandTooLarge(typeID: UInt8, length: Int, limit: Int)
    /// A type 1/2/3 chunk header on a chunk stream that never had a type 0 header.
    case missingPreviousHeader(chunkStreamID: UInt32, format: UInt8)
    /// The peer opened more distinct chunk streams than allowed.
    case tooManyChunkStreams(limit: Int)
    /// Set Chunk Size with 0, or more than the configured cap.
    case badChunkSize(UInt32)
    /// Unfinished messages across all chunk streams would need more memory than allowed.
    case tooMuchPendingData(bytes: Int, limit: Int)
    /// C0/S0 version byte other than 3 (6 would be RTMPE, which is not supported).
    case badHandshakeVersion(UInt8)
    /// The server sent handshake bytes before our C0+C1 went out (S0 answers C0).
    case handshakeBeforeC0
    /// A control message (or user control event) shorter than its fixed layout.
    case truncatedPayload(typeID: UInt8)
    /// The message is not an AMF0/AMF3 command (type 20 or 17).
    case notACommand(typeID: UInt8)
    /// The command body does not start with a name string.
    case malformedCommand
    /// AMF0 decoding of a command or data body failed.
    case amf0(AMF0Error)
    /// An aggregate message carries more FLV tags than allowed.
    case tooManyAggregateTags(limit: Int)

    public var description: String {
        switch self {
        case .messageTooLarge(let length, let limit):
            "RTMP message length \(length) exceeds limit \(limit)"
        case .commandTooLarge(let typeID, let length, let limit):
            "RTMP message type \(typeID) of \(length) bytes exceeds limit \(limit) (command/data/control messages)"
        case .missingPreviousHeader(let csid, let format):
            "RTMP chunk header type \(format) on chunk stream \(csid) that has no previous header"
        case .tooManyChunkStreams(let limit):
            "RTMP peer uses more than \(limit) chunk streams"
        case .badChunkSize(let size):
            "RTMP Set Chunk Size \(size) is out of range"
        case .tooMuchPendingData(let bytes, let limit):
            "RTMP unfinished messages need \(bytes) bytes, limit \(limit)"
        case .badHandshakeVersion(let version):
            "RTMP handshake version \(version) is not supported (expected 3)"
        case .handshakeBeforeC0:
            "RTMP server sent handshake data before the client's C0+C1"
        case .truncatedPayload(let typeID):
            "RTMP message type \(typeID) payload is truncated"
        case .notACommand(let typeID):
            "RTMP message type \(typeID) is not a command"
        case .malformedCommand:
            "RTMP command does not start with a name string"
        case .amf0(let error):
            "RTMP \(error.description)"
        case .tooManyAggregateTags(let limit):
            "RTMP aggregate message carries more than \(limit) tags"
        }
    }
}
