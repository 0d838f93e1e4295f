import NIOCore

/// A run of muxed bytes written as one unit to every player of a TransStream.
///
/// The bytes are shared storage: every sink writes the same `ByteBuffer` (reference counted), so
/// fan-out costs one `write` per player and never a copy.
public struct Segment: Sendable {
    public var bytes: ByteBuffer
    /// Starts with a video key frame (or is audio-only media after a cut): a player that skipped
    /// segments may resume here.
    public var startsWithKeyFrame: Bool
    /// Media time (ms, the source's output clock) of its first packet of the pacing track (video
    /// when the stream has video, else audio); nil when it has none (audio between video frames,
    /// a sequence header). Outputs that cut media by time (HLS segments and parts) read it.
    public var pacingMs: Int64?

    public init(bytes: ByteBuffer, startsWithKeyFrame: Bool, pacingMs: Int64? = nil) {
        self.bytes = bytes
        self.startsWithKeyFrame = startsWithKeyFrame
        self.pacingMs = pacingMs
    }
}

/// What a new player receives before live segments: the protocol header (file header, metadata,
/// sequence headers) and the already-serialized segments since the last key frame.
public struct StartupBytes: Sendable {
    public var header: ByteBuffer
    public var segments: [Segment]

    public init(header: ByteBuffer, segments: [Segment]) {
        self.header = header
        self.segments = segments
    }
}
