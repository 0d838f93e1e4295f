import NIOCore
import RelayCore
import RelayFLV

/// RTMP media and data messages (and HTTP-FLV tags: same type ids and bodies) → `MediaEvent`s:
/// 32-bit timestamps unwrapped to 64 bits, aggregate messages split, onMetaData → `.tracks`.
/// One per publishing session: the RTMP server's publishers and the pull clients (RTMP and
/// HTTP-FLV) read media with it; the FLV bodies go through `FLVDemuxer`.
public struct RTMPMediaReader: Sendable {
    private var demuxer = FLVDemuxer()
    private var lastRawTimestamp: UInt32 = 0
    private var timestampEpoch: Int64 = 0

    /// Tags one aggregate message may carry: an 8 MiB aggregate of empty tags cannot hold a loop.
    public static let maxAggregateTags = 1024

    public init() {}

    /// Appends what `message` means (nothing for control and command messages).
    public mutating func read(_ message: RTMPMessage, into events: inout [MediaEvent]) throws {
        switch message.type {
        case .audio?, .video?:
            try media(type: message.typeID, timestamp: message.timestamp, body: message.payload, into: &events)
        case .dataAMF0?, .dataAMF3?:
            metadata(try message.amf0Values(), into: &events)
        case .aggregate?:
            try aggregate(message, into: &events)
        default:
            break
        }
    }

    /// One FLV tag (an HTTP-FLV stream's).
    public mutating func read(_ tag: FLVTag, into events: inout [MediaEvent]) throws {
        if tag.type == FLVTagType.script {
            var body = tag.body
            guard let values = try? AMF0Value.decodeAll(from: &body, maxValues: RTMPMessage.maxAMF0Values) else { return }
            metadata(values, into: &events)
        } else {
            try media(type: tag.type, timestamp: tag.timestamp, body: tag.body, into: &events)
        }
    }

    private mutating func media(type: UInt8, timestamp: UInt32, body: ByteBuffer, into events: inout [MediaEvent]) throws {
        let time = unwrap(timestamp)
        if type == FLVTagType.video {
            try demuxer.video(body: body, timestamp: time, into: &events)
        } else if type == FLVTagType.audio {
            try demuxer.audio(body: body, timestamp: time, into: &events)
        }
    }

    /// `onMetaData` (or `@setDataFrame onMetaData`) naming video and/or audio: the tracks to expect.
    private func metadata(_ values: [AMF0Value], into events: inout [MediaEvent]) {
        var values = values[...]
        if values.first?.stringValue == "@setDataFrame" { values = values.dropFirst() }
        guard values.first?.stringValue == "onMetaData", let meta = values.dropFirst().first else { return }
        let video = meta["videocodecid"] != nil || meta["width"] != nil
        let audio = meta["audiocodecid"] != nil || meta["audiosamplerate"] != nil
        guard video || audio else { return }
        events.append(.tracks(video: video, audio: audio))
    }

    /// Aggregate messages carry FLV tags back to back; their timestamps are relative to the first
    /// tag and offset by the message's own timestamp.
    private mutating func aggregate(_ message: RTMPMessage, into events: inout [MediaEvent]) throws {
        var body = message.payload
        var first: UInt32?
        var tags = 0
        while body.readableBytes >= FLVTagHeader.size {
            tags += 1
            guard tags <= Self.maxAggregateTags else { throw RTMPError.tooManyAggregateTags(limit: Self.maxAggregateTags) }
            let start = body.readerIndex
            guard let type = body.getInteger(at: start, as: UInt8.self),
                  let lengthField = body.getInteger(at: start + 1, as: UInt32.self),
                  let timeField = body.getInteger(at: start + 4, as: UInt32.self) else { break }
            let length = Int(lengthField >> 8)
            let tagTime = (timeField >> 8) | ((timeField & 0xFF) << 24)
            body.moveReaderIndex(forwardBy: FLVTagHeader.size)
            guard let payload = body.readSlice(length: length) else { throw RTMPError.truncatedPayload(typeID: message.typeID) }
            _ = body.readInteger(as: UInt32.self)  // back pointer
            let base = first ?? tagTime
            first = base
            try media(type: type & 0x1F, timestamp: message.timestamp &+ (tagTime &- base), body: payload, into: &events)
        }
    }

    private mutating func unwrap(_ raw: UInt32) -> Int64 {
        if raw < lastRawTimestamp && lastRawTimestamp &- raw > 0x8000_0000 { timestampEpoch &+= 1 << 32 }
        lastRawTimestamp = raw
        return timestampEpoch &+ Int64(raw)
    }
}
