import NIOCore
import RelayCamera
import RelayCore

/// What a player saw: enough to judge a stream (frames, key frame first, gaps, first-frame time).
public struct PlayerStats: Sendable {
    public var status: Int?
    public var bytes = 0
    public var videoFrames = 0
    public var audioFrames = 0
    public var sequenceHeaders = 0
    public var firstVideoIsKey: Bool?
    public var connectedAt: NIODeadline
    public var firstVideoAt: NIODeadline?
    public var lastVideoAt: NIODeadline?
    /// Largest time between two consecutive video frames.
    public var maxVideoGap: TimeAmount = .zero
    public var videoTimestamps: [Int64] = []
    /// Glass-to-glass latency of each stamped video frame (arrival − `relay-camera --stamp` capture time), µs.
    public var latenciesMicros: [Int64] = []
    public var error: String?
    public var closed = false

    public init(connectedAt: NIODeadline) { self.connectedAt = connectedAt }

    /// Counts one video frame arriving at `now` (`timestamp` kept when given).
    mutating func recordVideoFrame(isKey: Bool, at now: NIODeadline, timestamp: Int64?) {
        if firstVideoAt == nil {
            firstVideoAt = now
            firstVideoIsKey = isKey
        }
        if let last = lastVideoAt { maxVideoGap = max(maxVideoGap, now - last) }
        lastVideoAt = now
        videoFrames += 1
        if let timestamp { videoTimestamps.append(timestamp) }
    }

    /// Time from connecting to the first video frame.
    public var timeToFirstFrame: TimeAmount? { firstVideoAt.map { $0 - connectedAt } }
}

/// Arrival time minus the capture stamp of a length-prefixed access unit, when it carries one.
func glassToGlassMicros(_ accessUnit: ByteBuffer, codec: CodecID) -> Int64? {
    guard let stamp = CaptureStamp.captureMicros(inAccessUnit: accessUnit, codec: codec) else { return nil }
    return CaptureStamp.nowMicros() - stamp
}
