import Logging
import NIOCore
import RelayCore

/// FLV tags from AVPackets: the HTTP-FLV TransStream (each segment framed as one HTTP chunk,
/// written in place) and, unframed, the WS-FLV TransStream and FLV files.
public final class FLVMuxer: Muxer {
    public enum Framing: Sendable { case httpChunked, none }

    private let framing: Framing
    private var streamStart: FLVStreamStart
    /// Frames over the 24-bit tag DataSize (from any ingest): dropped, logged once, counted.
    public private(set) var drops: OversizeFrameDrops

    public init(framing: Framing, hevcMode: HEVCFLVMode, logger: Logger = Logger(label: "relay.mux")) {
        self.framing = framing
        self.streamStart = FLVStreamStart(hevcMode: hevcMode)
        self.drops = OversizeFrameDrops(output: "flv", logger: logger)
    }

    public static func factory(hevcMode: HEVCFLVMode, logger: Logger = Logger(label: "relay.mux")) -> MuxerFactory {
        MuxerFactory(kind: .flv) { FLVMuxer(framing: .httpChunked, hevcMode: hevcMode, logger: logger) }
    }

    /// FLV over WebSocket: plain FLV; the WebSocket frame around each segment is added per
    /// connection by the frame encoder (header only, the segment's bytes are shared).
    public static func webSocketFactory(hevcMode: HEVCFLVMode, logger: Logger = Logger(label: "relay.mux")) -> MuxerFactory {
        MuxerFactory(kind: .wsFLV) { FLVMuxer(framing: .none, hevcMode: hevcMode, logger: logger) }
    }

    public var segmentPrefixSize: Int { framing == .httpChunked ? HTTPChunkFraming.prefixSize : 0 }

    public func finishSegment(_ buffer: inout ByteBuffer) {
        if framing == .httpChunked { HTTPChunkFraming.finish(&buffer) }
    }

    public func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) {
        FLVFileHeader.write(hasAudio: streams.contains { $0.kind == .audio },
                            hasVideo: streams.contains { $0.kind == .video }, into: &buffer)
        streamStart.writeHeader(streams: streams, into: &buffer, write: Self.writeTag)
    }

    public func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) {
        streamStart.configChanged(stream, into: &buffer, write: Self.writeTag)
    }

    public func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
        let ts = streamStart.timestamp(of: packet, stream: stream)
        let bodySize = packet.payload.readableBytes
            + (packet.isVideo ? FLVVideo.headerSize(codec: packet.codec, hevcMode: streamStart.hevcMode) : FLVAudio.headerSize(codec: packet.codec))
        guard bodySize <= FLVTagHeader.maxDataSize else {
            // DataSize has 24 bits: a longer tag would be written with a wrapped size and
            // desynchronise every player's parser. Drop the frame instead.
            drops.record(bytes: bodySize, limit: FLVTagHeader.maxDataSize)
            return
        }
        guard packet.isVideo || stream.audio != nil else { return }
        Self.writeTag(type: packet.isVideo ? FLVTagType.video : FLVTagType.audio, timestamp: ts, into: &buffer) {
            FLVTagBody.writeMediaHeader(packet, stream: stream, hevcMode: streamStart.hevcMode, into: &$0)
            $0.writeImmutableBuffer(packet.payload)
        }
    }

    /// A whole body (metadata, sequence header) as one tag.
    private static func writeTag(_ buffer: inout ByteBuffer, type: UInt8, timestamp: UInt32, body: ByteBuffer) {
        writeTag(type: type, timestamp: timestamp, into: &buffer) { $0.writeImmutableBuffer(body) }
    }

    /// Writes one tag: header, body, PreviousTagSize; the size is patched in after the body.
    /// A body over `FLVTagHeader.maxDataSize` is taken back out (false): callers check sizes
    /// first, this only keeps a wrapped DataSize from ever reaching a player.
    @discardableResult
    static func writeTag(type: UInt8, timestamp: UInt32, into buffer: inout ByteBuffer,
                         body: (inout ByteBuffer) -> Void) -> Bool {
        let start = buffer.writerIndex
        FLVTagHeader.write(type: type, dataSize: 0, timestamp: timestamp, into: &buffer)
        let bodyStart = buffer.writerIndex
        body(&buffer)
        let size = buffer.writerIndex - bodyStart
        guard size <= FLVTagHeader.maxDataSize else {
            buffer.moveWriterIndex(to: start)
            return false
        }
        buffer.setInteger(UInt8(truncatingIfNeeded: size >> 16), at: start + 1)
        buffer.setInteger(UInt16(truncatingIfNeeded: size), at: start + 2)
        buffer.writeInteger(UInt32(truncatingIfNeeded: size + FLVTagHeader.size))
        return true
    }
}
