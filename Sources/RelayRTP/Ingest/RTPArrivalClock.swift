import RelayCore

/// Media time for the tracks of one RTP publisher (WHIP, RTSP RECORD, an RTSP pull): each
/// track's RTP clock (random start, own rate) is anchored at the arrival of its first unit on
/// a clock the tracks share, so audio and video line up as they arrived (the Source's clock
/// policy then keeps every output monotonic). Times are in each track's clock rate.
public struct RTPArrivalClock: Sendable {
    /// Arrival of the first unit of any track (nanoseconds of the caller's monotonic clock).
    private var start: Int64?
    private var anchors: [Int: (rtpTime: Int64, ticks: Int64)] = [:]

    public init() {}

    /// `rtpTime`: the unit's unwrapped RTP time; `now`: its arrival in nanoseconds.
    public mutating func ticks(track: Int, rtpTime: Int64, clockRate: Int, now: Int64) -> Int64 {
        if let anchor = anchors[track] { return anchor.ticks &+ (rtpTime &- anchor.rtpTime) }
        let first = start ?? now
        start = first
        let elapsedMicros = max(0, now &- first) / 1000
        let ticks = elapsedMicros.rescaled(from: 1_000_000, to: max(clockRate, 1))
        anchors[track] = (rtpTime, ticks)
        return ticks
    }
}
