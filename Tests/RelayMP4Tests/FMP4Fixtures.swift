import NIOCore
import RelayCore
import RelayTestSupport
@testable import RelayMP4

/// Tracks and packets as the ingests make them, from the shared codec fixtures.
enum FMP4Fixtures {
    static func h264(index: Int = 0, timebase: Int = 1000) throws -> AVStream {
        try AVStream.h264(index: index, timebase: timebase, avcRecord: hexBuffer(MediaFixtures.avcRecord))
    }

    static func h265(index: Int = 0, timebase: Int = 90_000) throws -> AVStream {
        try AVStream.h265(index: index, timebase: timebase, hvcRecord: hexBuffer(MediaFixtures.hvcRecord))
    }

    /// AAC-LC 44.1 kHz stereo (AudioSpecificConfig 12 10).
    static func aac(index: Int = 1, timebase: Int = 1000) throws -> AVStream {
        try AVStream.aac(index: index, timebase: timebase, asc: hexBuffer("1210"))
    }

    static func packet(_ stream: AVStream, dts: Int64, pts: Int64? = nil, key: Bool = false, bytes: Int = 100,
                       seed: UInt8 = 1) -> AVPacket {
        AVPacket(streamIndex: stream.index, codec: stream.codec, dts: dts, pts: pts ?? dts, isKeyFrame: key,
                 payload: patternBuffer(bytes, seed: seed))
    }

    /// Init segment + the fragments of `packets`, as one unframed buffer.
    static func mux(_ streams: [AVStream], _ packets: [AVPacket], muxer: FMP4Muxer = FMP4Muxer(framing: .none))
        -> (header: ByteBuffer, fragments: ByteBuffer) {
        var header = ByteBuffer()
        muxer.writeHeader(streams: streams, into: &header)
        var fragments = ByteBuffer()
        for packet in packets {
            guard let stream = streams.first(where: { $0.index == packet.streamIndex }) else { continue }
            muxer.mux(packet, stream: stream, into: &fragments)
        }
        return (header, fragments)
    }
}
