import NIOCore
import RelayFLV
import RelayRTMP
import Testing
import RelayTestSupport

@Suite struct ControlMessageTests {
    @Test func protocolControlBuilders() throws {
        let cases: [(RTMPMessage, RTMPMessageType, String, RTMPControlMessage)] = [
            (.setChunkSize(4096), .setChunkSize, "00001000", .setChunkSize(4096)),
            (.abort(chunkStreamID: 6), .abort, "00000006", .abort(chunkStreamID: 6)),
            (.acknowledgement(sequenceNumber: 0x0102_0304), .acknowledgement, "01020304",
             .acknowledgement(sequenceNumber: 0x0102_0304)),
            (.windowAckSize(2_500_000), .windowAckSize, "002625a0", .windowAckSize(2_500_000)),
            (.setPeerBandwidth(2_500_000, limitType: .dynamic), .setPeerBandwidth, "002625a0 02",
             .setPeerBandwidth(2_500_000, limitType: 2)),
            (.userControl(.streamBegin(streamID: 1)), .userControl, "0000 00000001",
             .userControl(.streamBegin(streamID: 1))),
        ]
        for (built, type, payload, parsed) in cases {
            #expect(built.chunkStreamID == 2)
            #expect(built.messageStreamID == 0)
            #expect(built.timestamp == 0)
            #expect(built.type == type)
            #expect(built.payload == hexBuffer(payload))
            #expect(try RTMPControlMessage(built) == parsed)
        }
        #expect(try RTMPControlMessage(message(type: .video, payload: patternBuffer(1))) == nil)
        #expect(throws: RTMPError.truncatedPayload(typeID: 5)) {
            try RTMPControlMessage(message(csid: 2, type: .windowAckSize, msid: 0, payload: hexBuffer("0000")))
        }
        #expect(throws: RTMPError.truncatedPayload(typeID: 6)) {
            try RTMPControlMessage(message(csid: 2, type: .setPeerBandwidth, msid: 0, payload: hexBuffer("00000001")))
        }
    }

    @Test func userControlEvents() throws {
        let events: [(UserControlEvent, String)] = [
            (.streamBegin(streamID: 1), "0000 00000001"),
            (.streamEOF(streamID: 2), "0001 00000002"),
            (.streamDry(streamID: 3), "0002 00000003"),
            (.setBufferLength(streamID: 1, milliseconds: 3000), "0003 00000001 00000bb8"),
            (.streamIsRecorded(streamID: 1), "0004 00000001"),
            (.pingRequest(timestamp: 0xDEAD), "0006 0000dead"),
            (.pingResponse(timestamp: 0xBEEF), "0007 0000beef"),
            (.other(type: 31, data: hexBuffer("00000001")), "001f 00000001"),
        ]
        for (event, wire) in events {
            let built = RTMPMessage.userControl(event)
            #expect(built.payload == hexBuffer(wire))
            #expect(try UserControlEvent(payload: built.payload) == event)
        }
        for truncated in ["", "00", "0000 000000", "0003 00000001 0000"] {
            #expect(throws: RTMPError.truncatedPayload(typeID: 4)) { try UserControlEvent(payload: hexBuffer(truncated)) }
        }
    }

    @Test func commandRoundTrip() throws {
        let built = RTMPMessage.command(
            name: "_result", transactionID: 1,
            commandObject: ["fmsVer": "FMS/3,0,1,123", "capabilities": 31],
            arguments: [["level": "status", "code": "NetConnection.Connect.Success"]],
            messageStreamID: 0)
        #expect(built.type == .commandAMF0)
        #expect(built.chunkStreamID == 3)
        let parsed = try RTMPCommand(message: built)
        #expect(parsed.name == "_result")
        #expect(parsed.transactionID == 1)
        #expect(parsed.commandObject["capabilities"]?.numberValue == 31)
        #expect(parsed.arguments.first?["code"]?.stringValue == "NetConnection.Connect.Success")
        #expect(parsed.message() == built)

        let play = RTMPCommand(name: "play", transactionID: 4, arguments: ["stream", -2000])
        let onStream = play.message(messageStreamID: 1, chunkStreamID: 8)
        #expect(onStream.messageStreamID == 1 && onStream.chunkStreamID == 8)
        #expect(try RTMPCommand(message: onStream) == play)
        #expect(play.commandObject == .null)
    }

    @Test func amf3CommandSkipsFormatByte() throws {
        var payload = ByteBuffer()
        payload.writeInteger(UInt8(0))
        AMF0Value.encode(["createStream", 2, .null], into: &payload)
        let command = try RTMPCommand(message: message(csid: 3, type: .commandAMF3, msid: 0, payload: payload))
        #expect(command == RTMPCommand(name: "createStream", transactionID: 2, commandObject: .null))
    }

    @Test func lenientAndMalformedCommands() throws {
        func parse(_ values: [AMF0Value], type: RTMPMessageType = .commandAMF0) throws(RTMPError) -> RTMPCommand {
            var payload = ByteBuffer()
            AMF0Value.encode(values, into: &payload)
            return try RTMPCommand(message: message(csid: 3, type: type, msid: 0, payload: payload))
        }
        #expect(try parse(["onBWDone"]) == RTMPCommand(name: "onBWDone", transactionID: 0))
        #expect(throws: RTMPError.malformedCommand) { try parse([1, "x"]) }
        #expect(throws: RTMPError.malformedCommand) { try parse(["x", "y"]) }
        #expect(throws: RTMPError.malformedCommand) { try parse([]) }
        #expect(throws: RTMPError.notACommand(typeID: 18)) { try parse(["x", 1], type: .dataAMF0) }
        #expect(throws: RTMPError.amf0(.unsupportedType(0x11))) {
            try RTMPCommand(message: message(csid: 3, type: .commandAMF0, msid: 0, payload: hexBuffer("02 0001 78 11")))
        }
    }

    @Test func dataMessages() throws {
        let metadata: AMF0Value = .ecmaArray([AMF0Property("width", 1280), AMF0Property("height", 720)])
        let built = RTMPMessage.data(["onMetaData", metadata], timestamp: 5, messageStreamID: 1)
        #expect(built.type == .dataAMF0)
        #expect(built.timestamp == 5)
        #expect(try built.amf0Values() == ["onMetaData", metadata])

        // FFmpeg publishes metadata as @setDataFrame; AMF3 data (15) may carry a 0x00 prefix.
        var amf3 = ByteBuffer()
        amf3.writeInteger(UInt8(0))
        AMF0Value.encode(["@setDataFrame", "onMetaData", metadata], into: &amf3)
        let values = try message(type: .dataAMF3, payload: amf3).amf0Values()
        #expect(values.count == 3)
        #expect(values[2]["width"]?.numberValue == 1280)
    }

    @Test func messageTypeRawValues() {
        #expect(RTMPMessageType.allCases.map(\.rawValue) == [1, 2, 3, 4, 5, 6, 8, 9, 15, 16, 17, 18, 19, 20, 22])
        #expect(message(type: .aggregate, payload: ByteBuffer()).typeID == 22)
        #expect(RTMPMessage(chunkStreamID: 3, timestamp: 0, typeID: 99, messageStreamID: 0, payload: ByteBuffer()).type == nil)
    }
}
