import NIOCore
import RelayCore

/// What the FLV and RTMP muxers share: the start of a stream (onMetaData, then each stream's
/// sequence header), a new sequence header when a codec changes, and the millisecond clock.
/// The container around each body (an FLV tag, an RTMP message) is the muxer's `write`.
public struct FLVStreamStart: Sendable {
    /// Appends one whole body (`FLVTagType.script`, `.video` or `.audio`) in the muxer's container.
    public typealias Write = (_ buffer: inout ByteBuffer, _ type: UInt8, _ timestamp: UInt32, _ body: ByteBuffer) -> Void

    public let hevcMode: HEVCFLVMode
    /// The last packet's timestamp: a sequence header sent on a codec change carries it.
    private var lastTimestamp: UInt32 = 0

    public init(hevcMode: HEVCFLVMode) {
        self.hevcMode = hevcMode
    }

    /// onMetaData, then every stream's sequence header: what a new player needs before media.
    public func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer, write: Write) {
        var meta = ByteBuffer()
        FLVMetadata.write(streams: streams, hevcMode: hevcMode, into: &meta)
        write(&buffer, FLVTagType.script, 0, meta)
        for stream in streams { writeSequenceHeader(stream, timestamp: 0, into: &buffer, write: write) }
    }

    /// A codec's parameters changed mid-stream: its new sequence header, at the current time.
    public func configChanged(_ stream: AVStream, into buffer: inout ByteBuffer, write: Write) {
        writeSequenceHeader(stream, timestamp: lastTimestamp, into: &buffer, write: write)
    }

    /// `packet`'s decode time in FLV milliseconds (kept for the next codec change).
    public mutating func timestamp(of packet: AVPacket, stream: AVStream) -> UInt32 {
        lastTimestamp = UInt32(truncatingIfNeeded: packet.dts.rescaled(from: stream.timebase, to: 1000))
        return lastTimestamp
    }

    private func writeSequenceHeader(_ stream: AVStream, timestamp: UInt32, into buffer: inout ByteBuffer, write: Write) {
        var body = ByteBuffer()
        guard let type = FLVTagBody.writeSequenceHeader(stream, hevcMode: hevcMode, into: &body) else { return }
        write(&buffer, type, timestamp, body)
    }
}
