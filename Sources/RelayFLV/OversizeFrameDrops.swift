import CoreMetrics
import Logging

/// Frames a muxer cannot express are dropped, never trapped on: FLV tags and RTMP messages
/// have 24-bit sizes, and frame sizes come from publishers (or grow when NAL lengths are
/// rewritten). One log line per muxer (so per stream and output), a metric for every frame.
public struct OversizeFrameDrops: Sendable {
    /// Frames dropped by this muxer so far.
    public private(set) var count: UInt64 = 0
    private let output: String
    private let logger: Logger

    /// `output`: the muxer's protocol ("rtmp", "flv"), for the log line and metric.
    public init(output: String, logger: Logger = Logger(label: "relay.mux")) {
        self.output = output
        self.logger = logger
    }

    public mutating func record(bytes: Int, limit: Int) {
        count &+= 1
        Counter(label: "relay_oversize_frames_dropped_total", dimensions: [("output", output)]).increment()
        if count == 1 {
            logger.warning("\(output) muxer dropped a \(bytes)-byte frame: over the \(limit)-byte limit of the format (further drops on this stream are counted, not logged)")
        }
    }
}
