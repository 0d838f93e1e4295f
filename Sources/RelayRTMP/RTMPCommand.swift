import NIOCore
import RelayFLV

/// A NetConnection/NetStream command: name, transaction ID, command object, arguments
/// (spec 7.1.1, 7.2).
public struct RTMPCommand: Sendable, Equatable {
    public var name: String
    public var transactionID: Double
    /// `null` for most NetStream commands.
    public var commandObject: AMF0Value
    public var arguments: [AMF0Value]

    public init(name: String, transactionID: Double, commandObject: AMF0Value = .null, arguments: [AMF0Value] = []) {
        self.name = name
        self.transactionID = transactionID
        self.commandObject = commandObject
        self.arguments = arguments
    }

    /// Parses an AMF0 (20) or AMF3 (17) command message. Peers omit trailing parts freely, so
    /// a missing transaction ID reads as 0 and a missing command object as `null`.
    public init(message: RTMPMessage) throws(RTMPError) {
        guard message.typeID == RTMPMessageType.commandAMF0.rawValue
            || message.typeID == RTMPMessageType.commandAMF3.rawValue else {
            throw .notACommand(typeID: message.typeID)
        }
        var values = try message.amf0Values()[...]
        guard let name = values.popFirst()?.stringValue else { throw .malformedCommand }
        let transactionID: Double
        switch values.popFirst() {
        case nil: transactionID = 0
        case .number(let number)?: transactionID = number
        default: throw .malformedCommand
        }
        self.init(name: name, transactionID: transactionID, commandObject: values.popFirst() ?? .null,
                  arguments: Array(values))
    }

    /// The command as an AMF0 command message (type 20).
    public func message(messageStreamID: UInt32 = 0, chunkStreamID: UInt32 = 3) -> RTMPMessage {
        RTMPMessage.command(name: name, transactionID: transactionID, commandObject: commandObject,
                            arguments: arguments, messageStreamID: messageStreamID, chunkStreamID: chunkStreamID)
    }
}

extension RTMPMessage {
    /// An AMF0 command message (type 20).
    public static func command(name: String, transactionID: Double, commandObject: AMF0Value, arguments: [AMF0Value],
                               messageStreamID: UInt32 = 0, chunkStreamID: UInt32 = 3) -> RTMPMessage {
        var payload = ByteBufferAllocator().buffer(capacity: 128)
        AMF0Value.string(name).encode(into: &payload)
        AMF0Value.number(transactionID).encode(into: &payload)
        commandObject.encode(into: &payload)
        AMF0Value.encode(arguments, into: &payload)
        return RTMPMessage(chunkStreamID: chunkStreamID, timestamp: 0, type: .commandAMF0,
                           messageStreamID: messageStreamID, payload: payload)
    }

    /// An AMF0 data message (type 18), e.g. `["onMetaData", .ecmaArray(...)]`.
    public static func data(_ values: [AMF0Value], timestamp: UInt32 = 0, messageStreamID: UInt32 = 0,
                            chunkStreamID: UInt32 = 5) -> RTMPMessage {
        var payload = ByteBufferAllocator().buffer(capacity: 256)
        AMF0Value.encode(values, into: &payload)
        return RTMPMessage(chunkStreamID: chunkStreamID, timestamp: timestamp, type: .dataAMF0,
                           messageStreamID: messageStreamID, payload: payload)
    }

    /// Values one command or data message may hold (all depths together): a real `connect` or
    /// onMetaData has a few dozen; the cap keeps a hostile body's decoding cost small.
    public static let maxAMF0Values = 8192

    /// Decodes the payload of a command or data message as AMF0 values. For the AMF3 types
    /// (17, 15) a leading 0x00 format byte is skipped: peers send AMF0 bodies there anyway.
    public func amf0Values(maxValues: Int = RTMPMessage.maxAMF0Values) throws(RTMPError) -> [AMF0Value] {
        var body = payload
        if typeID == RTMPMessageType.commandAMF3.rawValue || typeID == RTMPMessageType.dataAMF3.rawValue,
           body.getInteger(at: body.readerIndex, as: UInt8.self) == 0 {
            body.moveReaderIndex(forwardBy: 1)
        }
        do {
            return try AMF0Value.decodeAll(from: &body, maxValues: maxValues)
        } catch {
            throw .amf0(error)
        }
    }
}
