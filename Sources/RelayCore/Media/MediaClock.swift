/// The one timestamp policy every ingest shares: a track's times as players see them.
///
/// Demuxers hand the Source times in the track's timebase as the peer sent them (after their own
/// 32/33-bit unwrap). A peer may send anything: backward jumps, jumps of hours, values near
/// `Int64.max`. Muxers rescale and add to those times, so a hostile value could trap or wrap
/// there. This clock turns any input into an output that
/// - starts at 0 for the track's first packet's offset from the source's first packet (so tracks
///   stay aligned),
/// - never decreases (dts): a small step back (≤ `maxJump`, e.g. B-frame reordering of a bad
///   encoder) is held at the last output; a jump back or forward by more than `maxJump` is a
///   **discontinuity** (encoder restart, a forged timestamp, a 2^32 "wrap" that is not one): the
///   output continues one typical frame step after the last output instead;
/// - keeps `pts - dts` within ±`maxJump`.
/// Every step is at most `maxJump` ticks, so outputs stay in range for as long as the stream could
/// possibly live; all arithmetic is overflow-checked.
public struct MediaClock: Sendable {
    public let timebase: Int
    /// Largest step between two packets treated as continuous, in ticks.
    public let maxJump: Int64
    private var lastIn: Int64?
    private var lastOut: Int64 = 0
    /// The last continuous forward step: the step used after a discontinuity.
    private var typicalStep: Int64
    public private(set) var discontinuities: UInt64 = 0

    /// `startOut`: the first packet's output time (its offset from the source's first packet).
    public init(timebase: Int, maxJumpMs: Int, startOut: Int64 = 0) {
        self.timebase = max(1, timebase)
        let ticks = Int64(max(1, maxJumpMs)).rescaled(from: 1000, to: self.timebase)
        self.maxJump = max(1, ticks)
        self.typicalStep = max(1, Int64(self.timebase) / 50)  // 20 ms until a real step is seen
        self.lastOut = max(0, startOut)
    }

    /// Output (dts, pts) for one packet; `discontinuity` is true when the input jumped.
    public mutating func map(dts: Int64, pts: Int64) -> (dts: Int64, pts: Int64, discontinuity: Bool) {
        let cts = Self.clamped(pts.subtractingReportingOverflow(dts), to: maxJump)
        var jumped = false
        if let last = lastIn {
            let (delta, overflow) = dts.subtractingReportingOverflow(last)
            if overflow || delta > maxJump || delta < -maxJump {
                jumped = true
                discontinuities &+= 1
                lastOut = lastOut.addingReportingOverflow(typicalStep).partialValue
            } else if delta > 0 {
                typicalStep = delta
                lastOut = lastOut.addingReportingOverflow(delta).partialValue
            }
            // delta ≤ 0 within the jump bound: held at the last output.
        }
        lastIn = dts
        if lastOut < 0 { lastOut = 0 }  // only after ~2^63 ticks of steps: start over, never trap
        return (lastOut, lastOut.addingReportingOverflow(cts).partialValue, jumped)
    }

    private static func clamped(_ value: (partialValue: Int64, overflow: Bool), to bound: Int64) -> Int64 {
        if value.overflow { return 0 }
        return min(max(value.partialValue, -bound), bound)
    }
}
