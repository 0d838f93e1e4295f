import RelayCore

/// What an RTCP receiver report says about one source (RFC 3550 §6.4.1, appendix A.1/A.3/A.8):
/// extended highest sequence, cumulative and fractional loss, interarrival jitter, and the last
/// sender report with when it arrived. Counted on arrival, before any reordering.
struct RTPReceptionStats {
    private(set) var ssrc: UInt32?
    private var baseSequence: UInt32 = 0
    private var cycles: UInt32 = 0
    private var maxSequence: UInt16 = 0
    private var received: Int64 = 0
    private var expectedPrior: Int64 = 0
    private var receivedPrior: Int64 = 0
    /// Jitter × 16 in timestamp units (A.8's integer form).
    private var jitter16: Int64 = 0
    private var lastTransit: Int64?
    private var lastSR: (ntpMiddle: UInt32, arrival: Int64)?

    /// One packet of `ssrc` at `now` (ns). A new SSRC starts over (the sender restarted).
    mutating func received(ssrc: UInt32, sequence: UInt16, timestamp: UInt32, clockRate: Int, now: Int64) {
        if self.ssrc != ssrc {
            self = RTPReceptionStats()
            self.ssrc = ssrc
            baseSequence = UInt32(sequence)
            maxSequence = sequence
        }
        received &+= 1
        let delta = sequence &- maxSequence
        if delta > 0, delta < 0x8000 {
            if sequence < maxSequence { cycles &+= 1 << 16 }
            maxSequence = sequence
        }
        let arrival = now.rescaled(from: 1_000_000_000, to: max(clockRate, 1))
        let transit = arrival &- Int64(timestamp)
        if let last = lastTransit {
            // |D| is bounded to 32 bits so a timestamp jump cannot overflow the sum.
            let d = min((transit &- last).magnitude, UInt64(UInt32.max))
            jitter16 &+= Int64(d) &- ((jitter16 &+ 8) >> 4)
        }
        lastTransit = transit
    }

    mutating func senderReport(ntp: UInt64, now: Int64) {
        lastSR = (UInt32(truncatingIfNeeded: ntp >> 16), now)
    }

    /// The report block for now; advances the "since the last report" counters.
    mutating func block(now: Int64) -> RTCPReportBlock? {
        guard let ssrc else { return nil }
        let extendedMax = cycles &+ UInt32(maxSequence)
        let expected = Int64(extendedMax) &- Int64(baseSequence) &+ 1
        let lost = expected &- received
        let expectedInterval = expected &- expectedPrior
        let receivedInterval = received &- receivedPrior
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = expectedInterval &- receivedInterval
        var fraction: UInt8 = 0
        if expectedInterval > 0, lostInterval > 0 {
            fraction = UInt8(clamping: (lostInterval << 8) / expectedInterval)
        }
        var lsr: UInt32 = 0, dlsr: UInt32 = 0
        if let sr = lastSR {
            lsr = sr.ntpMiddle
            // Delay in 1/65536 s.
            dlsr = UInt32(clamping: max(0, now &- sr.arrival).rescaled(from: 1_000_000_000, to: 65536))
        }
        return RTCPReportBlock(ssrc: ssrc, fractionLost: fraction, cumulativeLost: Int32(clamping: lost),
                               highestSequence: extendedMax, jitter: UInt32(clamping: jitter16 >> 4),
                               lastSenderReport: lsr, delaySinceLastSenderReport: dlsr)
    }
}
