import NIOCore

/// One coded frame of one track, protocol-neutral.
///
/// Payload conventions, chosen so that RTMP in → RTMP/FLV out needs no copy:
/// - H.264 / H.265: one access unit as NAL units each prefixed by a 4-byte big-endian length
///   (AVCC/HVCC form). Annex-B ingests (PS, JT/T 1078) convert once on the way in.
/// - AAC: one raw access unit (no ADTS header).
/// - G.711 / MP3 / Opus: the raw frame.
/// `payload` is usually a slice of the receive buffer; it is shared, never copied per player.
public struct AVPacket: Sendable {
    public var streamIndex: Int
    public var codec: CodecID
    /// Decode / presentation time in the track's timebase (`AVStream.timebase`).
    public var dts: Int64
    public var pts: Int64
    public var isKeyFrame: Bool
    public var payload: ByteBuffer

    public init(streamIndex: Int, codec: CodecID, dts: Int64, pts: Int64, isKeyFrame: Bool, payload: ByteBuffer) {
        self.streamIndex = streamIndex
        self.codec = codec
        self.dts = dts
        self.pts = pts
        self.isKeyFrame = isKeyFrame
        self.payload = payload
    }

    public var isVideo: Bool { codec.isVideo }
}

extension Int64 {
    /// Rescales a timestamp between timebases (ticks per second), rounding down. Never traps: a
    /// result out of range saturates at `Int64.min`/`.max`, and a timebase that is not positive
    /// gives 0 (media times reach here from peers; `MediaClock` keeps them in range).
    @inlinable
    public func rescaled(from: Int, to: Int) -> Int64 {
        if from == to { return self }
        guard from > 0, to > 0 else { return 0 }
        let f = Int64(from), t = Int64(to)
        let q = self / f, r = self % f
        let (whole, o1) = q.multipliedReportingOverflow(by: t)
        let (part, o2) = r.multipliedReportingOverflow(by: t)
        let (sum, o3) = whole.addingReportingOverflow(part / f)
        if o1 || o2 || o3 { return self < 0 ? .min : .max }
        return sum
    }
}
