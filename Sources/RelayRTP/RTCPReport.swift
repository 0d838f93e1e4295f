import NIOCore

/// One reception report block (RFC 3550 §6.4.1): what a receiver heard of one source.
public struct RTCPReportBlock: Sendable, Equatable {
    public var ssrc: UInt32
    /// Fraction of packets lost since the previous report, in 1/256.
    public var fractionLost: UInt8
    /// Cumulative packets lost (24-bit signed: duplicates can make it negative).
    public var cumulativeLost: Int32
    /// Extended highest sequence number received (cycles << 16 | sequence).
    public var highestSequence: UInt32
    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32
    /// Middle 32 bits of the NTP time of the last SR from this source (0: none yet).
    public var lastSenderReport: UInt32
    /// Delay since that SR, in 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, highestSequence: UInt32 = 0,
                jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.highestSequence = highestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    static let size = 24

    func write(into buffer: inout ByteBuffer) {
        // The 24-bit field holds the value clamped to its signed range.
        let lost = min(max(cumulativeLost, -0x80_0000), 0x7F_FFFF)
        buffer.writeInteger(ssrc)
        buffer.writeInteger(UInt32(fractionLost) << 24 | UInt32(bitPattern: lost) & 0xFF_FFFF)
        buffer.writeInteger(highestSequence)
        buffer.writeInteger(jitter)
        buffer.writeInteger(lastSenderReport)
        buffer.writeInteger(delaySinceLastSenderReport)
    }

    init?(_ buffer: ByteBuffer, at: Int) {
        guard let ssrc = buffer.getInteger(at: at, as: UInt32.self),
              let lost = buffer.getInteger(at: at + 4, as: UInt32.self),
              let highest = buffer.getInteger(at: at + 8, as: UInt32.self),
              let jitter = buffer.getInteger(at: at + 12, as: UInt32.self),
              let lsr = buffer.getInteger(at: at + 16, as: UInt32.self),
              let dlsr = buffer.getInteger(at: at + 20, as: UInt32.self) else { return nil }
        self.ssrc = ssrc
        fractionLost = UInt8(truncatingIfNeeded: lost >> 24)
        // Sign-extend the 24-bit count.
        cumulativeLost = Int32(bitPattern: lost << 8) >> 8
        highestSequence = highest
        self.jitter = jitter
        lastSenderReport = lsr
        delaySinceLastSenderReport = dlsr
    }
}

/// A sender report's sender info (RFC 3550 §6.4.1): maps an RTP time to wall-clock NTP.
public struct RTCPSenderInfo: Sendable, Equatable {
    public var ntp: UInt64
    public var rtpTime: UInt32
    public var packets: UInt32
    public var octets: UInt32

    public init(ntp: UInt64, rtpTime: UInt32, packets: UInt32, octets: UInt32) {
        self.ntp = ntp
        self.rtpTime = rtpTime
        self.packets = packets
        self.octets = octets
    }
}

/// A sender (SR) or receiver (RR) report read from a peer (RFC 3550 §6.4).
public struct RTCPReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// Present for a sender report.
    public var sender: RTCPSenderInfo?
    public var blocks: [RTCPReportBlock]

    public init(ssrc: UInt32, sender: RTCPSenderInfo?, blocks: [RTCPReportBlock]) {
        self.ssrc = ssrc
        self.sender = sender
        self.blocks = blocks
    }

    /// The SRs and RRs of a compound packet, in order; other packet types (SDES, BYE, APP …)
    /// are skipped. Stops at the first malformed packet, keeping what came before: a peer's
    /// bytes never trap, and at most one report per 4 bytes of input is read.
    public static func parse(_ compound: ByteBuffer) -> (reports: [RTCPReport], malformed: Bool) {
        var reports: [RTCPReport] = []
        var packets = RTCPCompound(compound)
        while let packet = packets.next() {
            guard packet.type == RTCP.senderReport || packet.type == RTCP.receiverReport else { continue }
            let at = packet.at, count = packet.count
            let isSR = packet.type == RTCP.senderReport
            let blocksAt = at + 8 + (isSR ? 20 : 0)
            guard blocksAt + count * RTCPReportBlock.size <= at + packet.length,
                  let ssrc = compound.getInteger(at: at + 4, as: UInt32.self) else { return (reports, true) }
            var sender: RTCPSenderInfo?
            if isSR {
                guard let ntp = compound.getInteger(at: at + 8, as: UInt64.self),
                      let rtpTime = compound.getInteger(at: at + 16, as: UInt32.self),
                      let sent = compound.getInteger(at: at + 20, as: UInt32.self),
                      let octets = compound.getInteger(at: at + 24, as: UInt32.self) else { return (reports, true) }
                sender = RTCPSenderInfo(ntp: ntp, rtpTime: rtpTime, packets: sent, octets: octets)
            }
            var blocks: [RTCPReportBlock] = []
            for k in 0..<count {
                guard let block = RTCPReportBlock(compound, at: blocksAt + k * RTCPReportBlock.size) else {
                    return (reports, true)
                }
                blocks.append(block)
            }
            reports.append(RTCPReport(ssrc: ssrc, sender: sender, blocks: blocks))
        }
        return (reports, packets.malformed)
    }
}
