import FuzzSupport
import NIOCore
import RelayCore
import RelayFLV

/// An FLV byte stream (HTTP-FLV pull, recordings) through FLVTagReader in arbitrary reads, each
/// tag body through the FLV demuxer exactly as RTMP publish media (FLVDemuxer.video/audio:
/// legacy and enhanced-RTMP video headers, AVC/HEVC records, AAC ASC, G.711 …) and script tags
/// through AMF0.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        let maxTag = 256 << 10
        var reader = FLVTagReader(maxTagSize: maxTag)
        var demuxer = FLVDemuxer()
        var events: [MediaEvent] = []
        Splitter.cumulate(input) { buffer in
            while let tag = try reader.next(from: &buffer) {
                invariant(tag.body.readableBytes <= maxTag, "tag of \(tag.body.readableBytes) bytes")
                let time = Int64(tag.timestamp)
                switch tag.type {
                case FLVTagType.video:
                    events.removeAll(keepingCapacity: true)
                    try demuxer.video(body: tag.body, timestamp: time, into: &events)
                    for case .packet(let p) in events {
                        _ = p.codec == .h264 ? H264.containsIDR(lengthPrefixed: p.payload) : HEVC.containsIRAP(lengthPrefixed: p.payload)
                    }
                case FLVTagType.audio:
                    events.removeAll(keepingCapacity: true)
                    try demuxer.audio(body: tag.body, timestamp: time, into: &events)
                default:
                    var body = tag.body
                    _ = try? AMF0Value.decodeAll(from: &body)
                }
            }
            buffer.discardReadBytes()
        }
    }
}
