import NIOCore
import RelayFLV

/// Builders for protocol control and user control messages. They all go on chunk stream 2,
/// message stream 0, as the spec (5.4, 6.2) requires.
extension RTMPMessage {
    static let controlChunkStreamID: UInt32 = 2

    private static func control(_ type: RTMPMessageType, _ write: (inout ByteBuffer) -> Void) -> RTMPMessage {
        var payload = ByteBufferAllocator().buffer(capacity: 10)
        write(&payload)
        return RTMPMessage(chunkStreamID: controlChunkStreamID, timestamp: 0, type: type, messageStreamID: 0,
                           payload: payload)
    }

    /// `size` is clamped to 1...0x7FFFFFFF, the range the 31-bit field can say.
    public static func setChunkSize(_ size: Int) -> RTMPMessage {
        let size = UInt32(truncatingIfNeeded: min(max(size, 1), 0x7FFF_FFFF))
        return control(.setChunkSize) { $0.writeInteger(size) }
    }

    public static func abort(chunkStreamID: UInt32) -> RTMPMessage {
        control(.abort) { $0.writeInteger(chunkStreamID) }
    }

    /// `sequenceNumber`: total bytes received so far (wrapping at 2^32).
    public static func acknowledgement(sequenceNumber: UInt32) -> RTMPMessage {
        control(.acknowledgement) { $0.writeInteger(sequenceNumber) }
    }

    public static func windowAckSize(_ size: UInt32) -> RTMPMessage {
        control(.windowAckSize) { $0.writeInteger(size) }
    }

    public static func setPeerBandwidth(_ size: UInt32, limitType: BandwidthLimitType) -> RTMPMessage {
        control(.setPeerBandwidth) {
            $0.writeInteger(size)
            $0.writeInteger(limitType.rawValue)
        }
    }

    public static func userControl(_ event: UserControlEvent) -> RTMPMessage {
        control(.userControl) { event.encode(into: &$0) }
    }
}

/// Limit type of Set Peer Bandwidth (spec 5.4.5).
public enum BandwidthLimitType: UInt8, Sendable {
    case hard = 0
    case soft = 1
    case dynamic = 2
}

/// User control events (message type 4, spec 6.2): event type (16 bits) + event data.
public enum UserControlEvent: Sendable, Equatable {
    case streamBegin(streamID: UInt32)
    case streamEOF(streamID: UInt32)
    case streamDry(streamID: UInt32)
    case setBufferLength(streamID: UInt32, milliseconds: UInt32)
    case streamIsRecorded(streamID: UInt32)
    case pingRequest(timestamp: UInt32)
    case pingResponse(timestamp: UInt32)
    /// Events outside the spec (SWF verification 26/27, Flash's buffer empty/ready 31/32...):
    /// kept rather than rejected, so they can be ignored.
    case other(type: UInt16, data: ByteBuffer)

    /// Parses a user control message payload.
    public init(payload: ByteBuffer) throws(RTMPError) {
        var payload = payload
        let truncated = RTMPError.truncatedPayload(typeID: RTMPMessageType.userControl.rawValue)
        guard let type = payload.readInteger(as: UInt16.self) else { throw truncated }
        func read() throws(RTMPError) -> UInt32 {
            guard let value = payload.readInteger(as: UInt32.self) else { throw truncated }
            return value
        }
        switch type {
        case 0: self = .streamBegin(streamID: try read())
        case 1: self = .streamEOF(streamID: try read())
        case 2: self = .streamDry(streamID: try read())
        case 3:
            let streamID = try read()
            self = .setBufferLength(streamID: streamID, milliseconds: try read())
        case 4: self = .streamIsRecorded(streamID: try read())
        case 6: self = .pingRequest(timestamp: try read())
        case 7: self = .pingResponse(timestamp: try read())
        default: self = .other(type: type, data: payload)
        }
    }

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .streamBegin(let id): write(0, id, into: &buffer)
        case .streamEOF(let id): write(0x1, id, into: &buffer)
        case .streamDry(let id): write(0x2, id, into: &buffer)
        case .setBufferLength(let id, let milliseconds):
            write(3, id, into: &buffer)
            buffer.writeInteger(milliseconds)
        case .streamIsRecorded(let id): write(4, id, into: &buffer)
        case .pingRequest(let timestamp): write(6, timestamp, into: &buffer)
        case .pingResponse(let timestamp): write(7, timestamp, into: &buffer)
        case .other(let type, let data):
            buffer.writeInteger(type)
            buffer.writeImmutableBuffer(data)
        }
    }

    private func write(_ type: UInt16, _ value: UInt32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeInteger(value)
    }
}

/// A parsed protocol control message (types 1–6), for the session to react to.
public enum RTMPControlMessage: Sendable, Equatable {
    case setChunkSize(UInt32)
    case abort(chunkStreamID: UInt32)
    case acknowledgement(sequenceNumber: UInt32)
    case windowAckSize(UInt32)
    case setPeerBandwidth(UInt32, limitType: UInt8)
    case userControl(UserControlEvent)

    /// nil when `message` is not a protocol control message; throws when it is but is short.
    public init?(_ message: RTMPMessage) throws(RTMPError) {
        guard let type = message.type else { return nil }
        var payload = message.payload
        let truncated = RTMPError.truncatedPayload(typeID: message.typeID)
        switch type {
        case .userControl:
            self = .userControl(try UserControlEvent(payload: payload))
            return
        case .setChunkSize, .abort, .acknowledgement, .windowAckSize, .setPeerBandwidth:
            break
        default:
            return nil
        }
        guard let value = payload.readInteger(as: UInt32.self) else { throw truncated }
        switch type {
        case .setChunkSize: self = .setChunkSize(value & 0x7FFF_FFFF)
        case .abort: self = .abort(chunkStreamID: value)
        case .acknowledgement: self = .acknowledgement(sequenceNumber: value)
        case .windowAckSize: self = .windowAckSize(value)
        default:
            guard let limit = payload.readInteger(as: UInt8.self) else { throw truncated }
            self = .setPeerBandwidth(value, limitType: limit)
        }
    }
}
