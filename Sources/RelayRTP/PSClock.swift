/// Turns PES time stamps into output times (90 kHz, starting near 0 at the first frame) and
/// falls back to arrival time for devices whose time stamps are absent or broken.
///
/// - 33-bit PTS/DTS are unwrapped (one unwrapper for all tracks, so they stay aligned).
/// - The first time stamp is mapped to the arrival time since the session started, so tracks
///   that start late line up with the ones that started early.
/// - A jump that wall-clock time does not explain (more than 10 s off; an encoder restart) re-bases
///   the timeline so it continues where it was.
/// - A track whose DTS stops increasing (repeated or backward time stamps) three times in a row,
///   or that has no time stamps for 25 units in a row, switches to arrival time for good.
/// - Units without a time stamp between stamped ones (two frames in one PES, several AAC frames
///   in one PES) get the previous time plus their duration.
struct PSClock {
    enum Track: Int { case video = 0, audio = 1 }

    static let jumpLimit: Int64 = 900_000
    static let badLimit = 3
    static let absentLimit = 25

    private struct State {
        var lastOut: Int64?
        var lastUnwrapped: Int64?
        var lastArrival: Int64 = 0
        var duration: Int64
        var bad = 0
        var absent = 0
        var arrivalMode = false
        var arrivalOffset: Int64 = 0
    }

    private var unwrapper = TimestampUnwrapper(bits: 33)
    private var states = [State(duration: 3600), State(duration: 1800)]
    private var offset: Int64?
    private var arrivalBase: Int64?
    /// Remarks for the log (a switch to arrival time, a re-base), taken by the demuxer.
    var notices: [String] = []

    func usesArrivalTime(_ track: Track) -> Bool { states[track.rawValue].arrivalMode }

    mutating func unwrap(_ raw: UInt64) -> Int64 { unwrapper.unwrap(raw) }

    /// Output (pts, dts) for one unit. `pts`/`dts` are unwrapped PES times (nil when the unit had
    /// none); `continuation` marks a unit that follows a stamped one in the same PES; `duration`
    /// is the unit's length when known (audio).
    mutating func stamp(_ track: Track, pts: Int64?, dts: Int64?, arrival: Int64, duration: Int64? = nil,
                        continuation: Bool = false) -> (pts: Int64, dts: Int64) {
        // Wrapping arithmetic throughout: unwrapped times are bounded (±2^61, `TimestampUnwrapper`)
        // and arrival is a monotonic clock, so nothing here wraps in practice, and nothing a peer
        // sends can make it trap.
        let base = arrivalBase ?? arrival
        arrivalBase = base
        let now = arrival &- base
        var s = states[track.rawValue]
        if let duration, duration > 0 { s.duration = duration }
        var result: (pts: Int64, dts: Int64)?

        if !s.arrivalMode, let ptsU = pts {
            let dtsU = dts ?? ptsU
            s.absent = 0
            if offset == nil { offset = now &- dtsU }
            var usable = true
            if let lastU = s.lastUnwrapped, let lastOut = s.lastOut {
                let delta = dtsU &- lastU
                let wall = arrival &- s.lastArrival
                let drift = delta &- wall
                if drift > Self.jumpLimit || drift < -Self.jumpLimit {
                    offset = lastOut &+ s.duration &- dtsU
                    notices.append("\(track) time stamps jumped by \(delta / 90) ms; timeline re-based")
                    s.bad = 0
                } else if delta < 0 || (delta == 0 && track == .video) {
                    s.bad += 1
                    usable = false
                    if s.bad >= Self.badLimit {
                        switchToArrival(&s, track, now: now, why: "\(track) time stamps do not increase")
                    }
                } else {
                    s.bad = 0
                    if track == .video && delta > 0 { s.duration = min(max(delta, 900), 90_000) }
                }
            }
            if !s.arrivalMode {
                let off = offset ?? 0
                var d = dtsU &+ off
                var p = ptsU &+ off
                if !usable || (s.lastOut.map { d <= $0 } ?? false) {
                    d = (s.lastOut ?? d) &+ s.duration
                    p = d
                }
                d = max(d, 0)
                result = (max(p, d), d)
                s.lastUnwrapped = dtsU
            }
        } else if !s.arrivalMode {
            if !continuation { s.absent += 1 }
            if s.absent > Self.absentLimit {
                switchToArrival(&s, track, now: now, why: "\(track) has no time stamps")
            } else if let lastOut = s.lastOut {
                let d = lastOut &+ s.duration
                result = (d, d)
                s.lastUnwrapped = s.lastUnwrapped.map { $0 &+ s.duration }
            } else {
                result = (max(now, 0), max(now, 0))
            }
        }

        if s.arrivalMode {
            var d = now &+ s.arrivalOffset
            if let lastOut = s.lastOut, d <= lastOut { d = lastOut &+ 1 }
            result = (d, d)
        }
        let out = result ?? (max(now, 0), max(now, 0))
        s.lastOut = out.dts
        s.lastArrival = arrival
        states[track.rawValue] = s
        return out
    }

    private mutating func switchToArrival(_ s: inout State, _ track: Track, now: Int64, why: String) {
        s.arrivalMode = true
        let latest = states.compactMap(\.lastOut).max() ?? 0
        s.arrivalOffset = max(latest, s.lastOut ?? 0) &+ s.duration &- now
        notices.append("\(why); using arrival time")
    }
}
