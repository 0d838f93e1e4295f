import FuzzSupport
import NIOCore
import RelayCore
import RelayRTP

/// GB28181 payload: MPEG-PS through PSDemuxer as GBSession drives it. The input is a series of
/// RTP payloads, each `[flags][len16][payload]`: flags bit 0 = marker (endOfFrame after the
/// payload), bit 1 = new RTP timestamp (endOfFrame before), bit 2 = packets lost before it
/// (`loss`), bit 3 = a restart (`discontinuity`), bit 4 = the `next_key_frame` loss policy (first
/// flags byte only).
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        var input = ByteBuffer(bytes: input)
        let maxFrame = 1 << 20
        let policy: VideoLossPolicy = (input.getInteger(at: 0, as: UInt8.self) ?? 0) & 16 != 0 ? .nextKeyFrame : .nextFrame
        var demuxer = PSDemuxer(options: .init(maxFrameBytes: maxFrame, maxGarbageBytes: 64 << 10, lossPolicy: policy))
        var events: [MediaEvent] = []
        var arrival: Int64 = 0
        do {
            while let flags = input.readInteger(as: UInt8.self) {
                let length = Int(input.readInteger(as: UInt16.self) ?? 0)
                let payload = input.readSlice(length: min(length, input.readableBytes)) ?? ByteBuffer()
                events.removeAll(keepingCapacity: true)
                if flags & 4 != 0 { demuxer.loss(into: &events) }
                if flags & 8 != 0 { demuxer.discontinuity() }
                if flags & 2 != 0 { try demuxer.endOfFrame(into: &events) }
                arrival += 3600
                try demuxer.feed(payload, arrival: arrival, into: &events)
                if flags & 1 != 0 { try demuxer.endOfFrame(into: &events) }
                check(events, maxFrame: maxFrame)
            }
            events.removeAll()
            try demuxer.endOfFrame(into: &events)
            check(events, maxFrame: maxFrame)
        } catch {
            // GBSession ends the stream with a log line.
        }
    }
}

func check(_ events: [MediaEvent], maxFrame: Int) {
    for case .packet(let p) in events {
        // 4-byte length prefixes may replace 3-byte start codes: a little growth is allowed.
        invariant(p.payload.readableBytes <= maxFrame + maxFrame / 3 + 16, "frame of \(p.payload.readableBytes) bytes")
        if p.codec == .h264 || p.codec == .h265 {
            invariant((try? AnnexB.nalUnits(lengthPrefixed: p.payload)) != nil, "video payload is not length-prefixed")
        }
    }
}
