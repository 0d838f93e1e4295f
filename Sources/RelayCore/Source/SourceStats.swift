import NIOCore

/// A live stream as the admin API sees it.
public struct SourceSnapshot: Sendable {
    public var id: String
    public var publisher: SessionInfo
    public var uptimeSeconds: Double
    public var isReady: Bool
    public var tracks: [AVStream]
    public var bytesIn: UInt64
    public var packetsIn: UInt64
    /// Payload bits per second over the last full second.
    public var bitrateIn: Double
    public var videoFPS: Double
    /// Video frames from one key frame to the next (the last complete GOP).
    public var gopFrames: Int
    /// Players by TransStream kind; recordings are not players.
    public var players: [OutputKind: Int]
    /// A recording sink is attached (config `record` or the on_publish answer).
    public var recording: Bool = false
    /// The stream's TransStreams, one per output kind with a sink.
    public var outputs: [OutputSnapshot] = []
}

/// One TransStream as the admin API sees it: how many sinks (players and recordings) it writes
/// to, and the merge window that count gives it now (`MergeWritePolicy`).
public struct OutputSnapshot: Sendable {
    public var kind: OutputKind
    public var sinks: Int
    public var mergeWindowMs: Int
}

/// Input rates over one-second windows; cheap enough to run per packet (one clock read).
struct RateMeter {
    private var windowStart = NIODeadline.now()
    private var windowBytes = 0
    private var windowFrames = 0
    private(set) var bitsPerSecond: Double = 0
    private(set) var videoFPS: Double = 0
    private var framesSinceKey = 0
    private(set) var gopFrames = 0

    mutating func add(_ packet: AVPacket) {
        windowBytes += packet.payload.readableBytes
        if packet.isVideo {
            windowFrames += 1
            if packet.isKeyFrame {
                if framesSinceKey > 0 { gopFrames = framesSinceKey }
                framesSinceKey = 0
            }
            framesSinceKey += 1
        }
        let now = NIODeadline.now()
        let elapsed = now - windowStart
        if elapsed >= .seconds(1) {
            let seconds = Double(elapsed.nanoseconds) / 1e9
            bitsPerSecond = Double(windowBytes * 8) / seconds
            videoFPS = Double(windowFrames) / seconds
            windowStart = now
            windowBytes = 0
            windowFrames = 0
        }
    }
}
