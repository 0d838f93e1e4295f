import NIOCore
import RelayCore

/// A publisher without a protocol, for output session tests: a Source of H.264 + AAC on a
/// ManualLoop, fed AVPackets directly (what any ingest's demuxer hands the core).
public final class TestPublisher {
    public let source: Source

    /// A real 720p AVC decoder configuration record and a 44.1 kHz stereo AAC-LC config.
    public static let avcRecord: [UInt8] = hexBytes(MediaFixtures.avcRecord)
    public static let aacConfig: [UInt8] = [0x12, 0x10]
    /// One IDR access unit in AVCC form (4-byte length + NAL unit).
    public static let keyFrame: [UInt8] = [0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x21]
    public static let aacFrame: [UInt8] = [0x21, 0x10, 0x05, 0x03]

    /// Claims `id` for a publisher at `remote` and announces the two tracks; throws what the
    /// registry refuses.
    public init(id: String, relay: RelayContext, loop: ManualLoop, remote: String = "192.0.2.9:4000") throws {
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: "test", remoteAddress: remote)
        source = Source(id: id, eventLoop: loop, publisher: info, context: relay)
        try relay.registry.register(source)
        // Parsed as an ingest parses them: SPS/PPS and resolution for SDP, FLV and the admin API.
        let video = try AVStream.h264(index: 0, timebase: 1000, avcRecord: ByteBuffer(bytes: Self.avcRecord))
        let audio = try AVStream.aac(index: 1, timebase: 44_100, asc: ByteBuffer(bytes: Self.aacConfig))
        source.assumeIsolated { source in
            source.expectTracks(video: true, audio: true)
            source.updateStream(video)
            source.updateStream(audio)
        }
    }

    /// A key frame at `ms` and an AAC frame beside it: enough for the source to be playable.
    public func sendKeyFrame(at ms: Int64) {
        let video = AVPacket(streamIndex: 0, codec: .h264, dts: ms, pts: ms, isKeyFrame: true, payload: ByteBuffer(bytes: Self.keyFrame))
        let audio = AVPacket(streamIndex: 1, codec: .aac, dts: ms * 441 / 10, pts: ms * 441 / 10, isKeyFrame: true,
                             payload: ByteBuffer(bytes: Self.aacFrame))
        source.assumeIsolated { source in
            source.write(video)
            source.write(audio)
        }
    }
}
