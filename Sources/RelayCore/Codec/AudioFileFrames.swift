import NIOCore

/// An audio elementary stream cut into the frames a sender paces out (gb-send, the JT/T 1078
/// sender): whole ADTS frames for AAC, `g711FrameMs` chunks of raw 8 kHz G.711.
public struct AudioFileFrames: Sendable {
    public var frames: [ByteBuffer] = []
    /// Duration of one frame; 0 when there are none.
    public var frameSeconds: Double = 0

    /// Throws when an ADTS header does not parse; a trailing partial frame is left out.
    public init(_ data: ByteBuffer, codec: CodecID, g711FrameMs: Int) throws {
        var buffer = data
        if codec == .aac {
            var rate = 0
            while buffer.readableBytes >= 7 {
                let header = try AAC.ADTSHeader(parsing: buffer)
                guard let frame = buffer.readSlice(length: header.frameLength) else { break }
                rate = header.sampleRate
                frames.append(frame)
            }
            if rate > 0 { frameSeconds = 1024 / Double(rate) }
        } else {
            let size = 8 * g711FrameMs
            while size > 0, let frame = buffer.readSlice(length: size) { frames.append(frame) }
            frameSeconds = Double(g711FrameMs) / 1000
        }
    }
}
