import NIOCore

/// One complete RTMP message as reassembled from (or to be cut into) chunks.
///
/// `typeID` is kept raw rather than as `RTMPMessageType` so unknown types pass through
/// instead of failing the connection.
public struct RTMPMessage: Sendable, Equatable {
    /// Chunk stream the message arrived on / should be sent on (2...65599).
    public var chunkStreamID: UInt32
    /// Absolute timestamp in milliseconds: deltas and extended timestamps already resolved.
    public var timestamp: UInt32
    public var typeID: UInt8
    public var messageStreamID: UInt32
    public var payload: ByteBuffer

    public init(chunkStreamID: UInt32, timestamp: UInt32, typeID: UInt8, messageStreamID: UInt32, payload: ByteBuffer) {
        self.chunkStreamID = chunkStreamID
        self.timestamp = timestamp
        self.typeID = typeID
        self.messageStreamID = messageStreamID
        self.payload = payload
    }

    public init(chunkStreamID: UInt32, timestamp: UInt32, type: RTMPMessageType, messageStreamID: UInt32, payload: ByteBuffer) {
        self.init(chunkStreamID: chunkStreamID, timestamp: timestamp, typeID: type.rawValue,
                  messageStreamID: messageStreamID, payload: payload)
    }

    /// The known message type, or nil for a type this library does not name.
    public var type: RTMPMessageType? { RTMPMessageType(rawValue: typeID) }
}

/// RTMP message type IDs (RTMP spec 5.4, 7.1).
public enum RTMPMessageType: UInt8, Sendable, CaseIterable {
    case setChunkSize = 1
    case abort = 2
    case acknowledgement = 3
    case userControl = 4
    case windowAckSize = 5
    case setPeerBandwidth = 6
    case audio = 8
    case video = 9
    case dataAMF3 = 15
    case sharedObjectAMF3 = 16
    case commandAMF3 = 17
    case dataAMF0 = 18
    case sharedObjectAMF0 = 19
    case commandAMF0 = 20
    case aggregate = 22
}
