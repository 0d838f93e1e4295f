import FuzzSupport
import NIOCore
import RelayCore
import RelayFLV
import RelayRTMP

/// The RTMP chunk stream after the handshake, as RTMPServerHandler processes it: the chunk
/// decoder fed in arbitrary reads (cumulating the unread tail), then every message parsed the
/// way the handler does: commands (AMF0/AMF3 envelope), data (@setDataFrame onMetaData),
/// protocol control, aggregate messages, and audio/video through the FLV demuxer of a publisher.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        // Small limits so the fuzzer reaches them; the server's defaults are larger, the code the same.
        let maxMessage = 64 << 10
        let maxChunk = 16 << 10
        var decoder = RTMPChunkDecoder(maxMessageSize: maxMessage, maxChunkSize: maxChunk, maxChunkStreams: 8)
        var demuxer = FLVDemuxer()
        Splitter.cumulate(input) { cumulation in
            while let message = try decoder.next(from: &cumulation) {
                invariant(message.payload.readableBytes <= maxMessage, "message of \(message.payload.readableBytes) bytes")
                invariant(decoder.chunkSize <= maxChunk, "chunk size \(decoder.chunkSize)")
                try handle(message, demuxer: &demuxer)
            }
            invariant(cumulation.readableBytes <= maxChunk + 18 + 4096 + 64, "holding \(cumulation.readableBytes) bytes")
            cumulation = ByteBuffer(cumulation.readableBytesView)
        }
    }
}

func handle(_ message: RTMPMessage, demuxer: inout FLVDemuxer) throws {
    switch message.type {
    case .audio?, .video?:
        try media(message, demuxer: &demuxer)
    case .commandAMF0?, .commandAMF3?:
        let command = try RTMPCommand(message: message)
        _ = command.commandObject["app"]?.stringValue.map { splitQuery($0[...]) }
        _ = command.commandObject["tcUrl"]?.stringValue.map { splitQuery($0[...]) }
        if let name = command.arguments.first?.stringValue {
            let (path, _) = splitQuery(name[...])
            _ = isValidStreamID(path.split(separator: "/").joined(separator: "/"))
        }
    case .dataAMF0?, .dataAMF3?:
        var values = try message.amf0Values()[...]
        if values.first?.stringValue == "@setDataFrame" { values = values.dropFirst() }
        if values.first?.stringValue == "onMetaData", let meta = values.dropFirst().first {
            _ = meta["videocodecid"] != nil || meta["width"] != nil
        }
    case .setChunkSize?, .abort?, .acknowledgement?, .windowAckSize?, .setPeerBandwidth?, .userControl?:
        _ = try RTMPControlMessage(message)
    case .aggregate?:
        // As RTMPServerHandler.handleAggregate.
        var body = message.payload
        var first: UInt32?
        while body.readableBytes >= 11 {
            let start = body.readerIndex
            let type = body.getInteger(at: start, as: UInt8.self)!
            let length = Int(body.getInteger(at: start + 1, as: UInt32.self)! >> 8)
            let timeField = body.getInteger(at: start + 4, as: UInt32.self)!
            let tagTime = (timeField >> 8) | ((timeField & 0xFF) << 24)
            body.moveReaderIndex(forwardBy: 11)
            guard let payload = body.readSlice(length: length) else { throw RTMPError.truncatedPayload(typeID: message.typeID) }
            _ = body.readInteger(as: UInt32.self)
            let base = first ?? tagTime
            first = base
            guard type == 8 || type == 9 else { continue }
            try media(RTMPMessage(chunkStreamID: message.chunkStreamID, timestamp: message.timestamp &+ (tagTime &- base),
                                  typeID: type, messageStreamID: message.messageStreamID, payload: payload),
                      demuxer: &demuxer)
        }
    default:
        break
    }
}

func media(_ message: RTMPMessage, demuxer: inout FLVDemuxer) throws {
    var events: [MediaEvent] = []
    if message.type == .video {
        try demuxer.video(body: message.payload, timestamp: Int64(message.timestamp), into: &events)
    } else {
        try demuxer.audio(body: message.payload, timestamp: Int64(message.timestamp), into: &events)
    }
    for case .packet(let packet) in events {
        // Short NAL lengths are rewritten to 4 bytes: 1-byte length + 1-byte NAL grows 2.5x at most.
        invariant(packet.payload.readableBytes * 2 <= message.payload.readableBytes * 5, "packet grew")
    }
}
