import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayFLV

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
    /// Start-up steps with their times (RTSP: each answer, the first RTP packet), to explain a slow first frame.
    public var milestones: [(step: String, at: NIODeadline)] = []
    public var closed = false
    /// Video frames and the largest gap between two of them since `startWindow()`: relay-bench
    /// compares a window before and one during an event (a stalled player, say).
    public private(set) var windowVideoFrames = 0
    public private(set) var windowMaxVideoGap: TimeAmount = .zero

    public init(connectedAt: NIODeadline) { self.connectedAt = connectedAt }

    /// Counts one video frame arriving at `now` (`timestamp` kept when given).
    mutating func recordVideoFrame(isKey: Bool, at now: NIODeadline, timestamp: Int64?) {
        if firstVideoAt == nil {
            firstVideoAt = now
            firstVideoIsKey = isKey
        }
        if let last = lastVideoAt {
            maxVideoGap = max(maxVideoGap, now - last)
            windowMaxVideoGap = max(windowMaxVideoGap, now - last)
        }
        lastVideoAt = now
        videoFrames += 1
        windowVideoFrames += 1
        if let timestamp { videoTimestamps.append(timestamp) }
    }

    /// Starts a new measurement window (frames and largest gap counted from now).
    public mutating func startWindow() {
        windowVideoFrames = 0
        windowMaxVideoGap = .zero
    }

    /// The largest video gap in the window, counting the time since the last frame up to `now`
    /// (a player that got nothing at all in the window shows the whole window as its gap).
    public func windowMaxVideoGap(until now: NIODeadline) -> TimeAmount {
        max(windowMaxVideoGap, lastVideoAt.map { now - $0 } ?? .zero)
    }

    /// "OPTIONS +0.4 ms, DESCRIBE +0.9 ms, …, first frame +2.1 ms" from connecting.
    public var startupTrace: String {
        var steps = milestones.map { "\($0.step) +\(String(format: "%.1f", Double(($0.at - connectedAt).nanoseconds) / 1e6)) ms" }
        if let ttff = timeToFirstFrame { steps.append("first frame +\(String(format: "%.1f", Double(ttff.nanoseconds) / 1e6)) ms") }
        return steps.joined(separator: ", ")
    }

    /// Time from connecting to the first video frame.
    public var timeToFirstFrame: TimeAmount? { firstVideoAt.map { $0 - connectedAt } }
}

/// Arrival time minus the capture stamp of a length-prefixed access unit, when it carries one.
func glassToGlassMicros(_ accessUnit: ByteBuffer, codec: CodecID) -> Int64? {
    guard let stamp = CaptureStamp.captureMicros(inAccessUnit: accessUnit, codec: codec) else { return nil }
    return CaptureStamp.nowMicros() - stamp
}

extension NIOLockedValueBox where Value == PlayerStats {
    /// Counts an FLV video tag body (an RTMP video message or an HTTP-FLV video tag): a sequence
    /// header, or a frame with its timestamp (when kept) and glass-to-glass latency (when measured).
    func recordFLVVideo(_ body: ByteBuffer, timestamp: UInt32, keepTimestamps: Bool, measureLatency: Bool) throws {
        let now = NIODeadline.now()
        switch try FLVVideo.parse(body) {
        case .sequenceHeader:
            withLockedValue { $0.sequenceHeaders += 1 }
        case .frame(let codec, let isKey, _, let data):
            let latency = measureLatency ? glassToGlassMicros(data, codec: codec) : nil
            withLockedValue {
                $0.recordVideoFrame(isKey: isKey, at: now, timestamp: keepTimestamps ? Int64(timestamp) : nil)
                if let latency { $0.latenciesMicros.append(latency) }
            }
        default:
            break
        }
    }
}
