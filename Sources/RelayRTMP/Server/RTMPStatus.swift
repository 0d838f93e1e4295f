import NIOCore
import RelayFLV

/// The `onStatus` / `_result` messages real clients wait for.
enum RTMPStatus {
    static func onStatus(level: String = "status", code: String, description: String,
                         streamID: UInt32 = RTMPMuxer.playStreamID) -> RTMPMessage {
        .command(name: "onStatus", transactionID: 0, commandObject: .null, arguments: [
            .object([
                AMF0Property(key: "level", value: .string(level)),
                AMF0Property(key: "code", value: .string(code)),
                AMF0Property(key: "description", value: .string(description)),
            ]),
        ], messageStreamID: streamID, chunkStreamID: 5)
    }

    static func connectResult(transactionID: Double) -> RTMPMessage {
        .command(name: "_result", transactionID: transactionID, commandObject: .object([
            AMF0Property(key: "fmsVer", value: .string("FMS/3,5,7,7009")),
            AMF0Property(key: "capabilities", value: .number(31)),
            AMF0Property(key: "mode", value: .number(1)),
        ]), arguments: [
            .object([
                AMF0Property(key: "level", value: .string("status")),
                AMF0Property(key: "code", value: .string("NetConnection.Connect.Success")),
                AMF0Property(key: "description", value: .string("Connection succeeded.")),
                AMF0Property(key: "objectEncoding", value: .number(0)),
            ]),
        ])
    }

    static func result(transactionID: Double, _ value: AMF0Value = .undefined) -> RTMPMessage {
        .command(name: "_result", transactionID: transactionID, commandObject: .null, arguments: [value])
    }

    static func error(transactionID: Double, code: String, description: String) -> RTMPMessage {
        .command(name: "_error", transactionID: transactionID, commandObject: .null, arguments: [
            .object([
                AMF0Property(key: "level", value: .string("error")),
                AMF0Property(key: "code", value: .string(code)),
                AMF0Property(key: "description", value: .string(description)),
            ]),
        ])
    }

    /// What a player gets when its stream's publisher leaves.
    static func playTrailer(chunkSize: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        RTMPChunkEncoder.write(.userControl(.streamEOF(streamID: RTMPMuxer.playStreamID)), chunkSize: chunkSize, into: &buffer)
        RTMPChunkEncoder.write(onStatus(code: "NetStream.Play.UnpublishNotify", description: "stream is unpublished"),
                               chunkSize: chunkSize, into: &buffer)
        RTMPChunkEncoder.write(onStatus(code: "NetStream.Play.Stop", description: "stream stopped"),
                               chunkSize: chunkSize, into: &buffer)
        return buffer
    }
}
