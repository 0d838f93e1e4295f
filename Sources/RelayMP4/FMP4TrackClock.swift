/// A track's decode times in its MP4 timescale: never negative, never decreasing (a fragment
/// whose `tfdt` goes back makes MSE drop or overlap frames), and a live estimate of each
/// sample's duration, which is not known until the next packet arrives.
struct FMP4TrackClock {
    let timescale: Int
    private var last: Int64?
    private var lastStep: Int64

    init(timescale: Int) {
        self.timescale = max(1, timescale)
        self.lastStep = max(1, Int64(self.timescale) / 25)  // 1/25 s until a step is seen
    }

    /// Longest estimated duration: one second (a jump in the source's clock is not a frame rate).
    private var maxStep: Int64 { Int64(timescale) }

    struct Timing {
        var decodeTime: UInt64
        var duration: UInt32
        var compositionOffset: Int32
    }

    /// `fixedDuration`: the codec's sample duration in this timescale (AAC: 1024), else the
    /// last step between decode times is taken as this sample's.
    mutating func next(dts: Int64, pts: Int64, timebase: Int, fixedDuration: Int64?) -> Timing {
        var time = max(0, dts.rescaled(from: timebase, to: timescale))
        if let last {
            if let fixed = fixedDuration, fixed > 0 {
                // Frames of a fixed duration are contiguous: a time within half a frame of the
                // previous frame's end is that end (RTMP's millisecond times would otherwise
                // leave gaps and overlaps of a few samples between AAC frames).
                let end = last.addingReportingOverflow(fixed).partialValue
                if time.subtractingReportingOverflow(end).partialValue.magnitude <= UInt64(fixed / 2) { time = end }
            }
            if time > last {
                lastStep = min(time &- last, maxStep)
            } else {
                time = last
            }
        }
        last = time
        let (offset, overflow) = pts.subtractingReportingOverflow(dts)
        let cts = overflow ? 0 : offset.rescaled(from: timebase, to: timescale)
        let duration = fixedDuration ?? lastStep
        return Timing(decodeTime: UInt64(time), duration: UInt32(clamping: max(1, duration)),
                      compositionOffset: Int32(clamping: cts))
    }

    /// The same clock in another timescale (an audio track whose sample rate changed).
    func rescaled(to newTimescale: Int) -> FMP4TrackClock {
        var clock = FMP4TrackClock(timescale: newTimescale)
        clock.last = last.map { $0.rescaled(from: timescale, to: clock.timescale) }
        clock.lastStep = max(1, min(lastStep.rescaled(from: timescale, to: clock.timescale), clock.maxStep))
        return clock
    }
}
