import Logging
import NIOCore
import RelayCore
import RelayFLV

/// The RTMP TransStream's muxer: every message as type-0-headed chunks at one chunk size, on
/// message stream 1, so the same bytes are valid for every player whatever it received before.
public final class RTMPMuxer: Muxer {
    static let videoChunkStream: UInt32 = 6
    static let audioChunkStream: UInt32 = 4
    static let dataChunkStream: UInt32 = 5
    /// Every player's createStream is answered with this id.
    static let playStreamID: UInt32 = 1

    private let chunkSize: Int
    private var streamStart: FLVStreamStart
    /// Reused for the few bytes of FLV body header before each frame (no allocation per packet).
    private var scratch = ByteBufferAllocator().buffer(capacity: 16)
    /// Frames over the 24-bit message length (from any ingest): dropped, logged once, counted.
    public private(set) var drops: OversizeFrameDrops

    public init(chunkSize: Int, hevcMode: HEVCFLVMode, logger: Logger = Logger(label: "relay.mux")) {
        self.chunkSize = chunkSize
        self.streamStart = FLVStreamStart(hevcMode: hevcMode)
        self.drops = OversizeFrameDrops(output: "rtmp", logger: logger)
    }

    public static func factory(chunkSize: Int, hevcMode: HEVCFLVMode,
                               logger: Logger = Logger(label: "relay.mux")) -> MuxerFactory {
        MuxerFactory(kind: .rtmp) { RTMPMuxer(chunkSize: chunkSize, hevcMode: hevcMode, logger: logger) }
    }

    public func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) {
        streamStart.writeHeader(streams: streams, into: &buffer, write: writeWhole)
    }

    public func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) {
        streamStart.configChanged(stream, into: &buffer, write: writeWhole)
    }

    public func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
        let ts = streamStart.timestamp(of: packet, stream: stream)
        scratch.clear()
        guard FLVTagBody.writeMediaHeader(packet, stream: stream, hevcMode: streamStart.hevcMode, into: &scratch) else { return }
        write(video: packet.isVideo, timestamp: ts, prefix: scratch, body: packet.payload, into: &buffer)
    }

    /// A whole body: metadata on the data chunk stream, a sequence header on its media's.
    private func writeWhole(_ buffer: inout ByteBuffer, type: UInt8, timestamp: UInt32, body: ByteBuffer) {
        if type == FLVTagType.script {
            write(csid: Self.dataChunkStream, timestamp: timestamp, type: .dataAMF0, prefix: ByteBuffer(), body: body, into: &buffer)
        } else {
            write(video: type == FLVTagType.video, timestamp: timestamp, prefix: ByteBuffer(), body: body, into: &buffer)
        }
    }

    /// A video or audio message on its chunk stream.
    private func write(video: Bool, timestamp: UInt32, prefix: ByteBuffer, body: ByteBuffer, into buffer: inout ByteBuffer) {
        write(csid: video ? Self.videoChunkStream : Self.audioChunkStream, timestamp: timestamp,
              type: video ? .video : .audio, prefix: prefix, body: body, into: &buffer)
    }

    /// Writes nothing for a message the encoder cannot express (over 24 bits): dropping one
    /// frame beats trapping the process or sending every player a corrupt length.
    private func write(csid: UInt32, timestamp: UInt32, type: RTMPMessageType, prefix: ByteBuffer, body: ByteBuffer,
                       into buffer: inout ByteBuffer) {
        if !RTMPChunkEncoder.write(chunkStreamID: csid, timestamp: timestamp, typeID: type.rawValue,
                                   messageStreamID: Self.playStreamID, prefix: prefix, body: body,
                                   chunkSize: chunkSize, into: &buffer) {
            drops.record(bytes: prefix.readableBytes + body.readableBytes, limit: RTMPChunkEncoder.maxPayloadLength)
        }
    }
}
