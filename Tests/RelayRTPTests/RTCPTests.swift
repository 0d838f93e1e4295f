import NIOCore
import RelayCore
import RelayRTP
import Testing

@Suite struct RTCPTests {
    @Test func receiverReportRoundTrips() {
        let blocks = [
            RTCPReportBlock(ssrc: 0x1111, fractionLost: 12, cumulativeLost: 345, highestSequence: 0x1_0005, jitter: 77,
                            lastSenderReport: 0xABCD_0000, delaySinceLastSenderReport: 65536),
            RTCPReportBlock(ssrc: 0x2222, cumulativeLost: -3),
        ]
        var b = ByteBuffer()
        RTCP.writeReceiverReport(ssrc: 0x9999, blocks: blocks, into: &b)
        #expect(b.getInteger(at: 0, as: UInt8.self) == 0x82)
        #expect(b.getInteger(at: 1, as: UInt8.self) == RTCP.receiverReport)
        #expect(b.getInteger(at: 2, as: UInt16.self) == 13)
        let parsed = RTCPReport.parse(b)
        #expect(!parsed.malformed)
        #expect(parsed.reports == [RTCPReport(ssrc: 0x9999, sender: nil, blocks: blocks)], "the SDES after it is skipped")
    }

    @Test func senderReportParses() {
        var b = ByteBuffer()
        RTCP.writeSenderReport(ssrc: 5, ntp: 0x0102_0304_0506_0708, rtpTime: 90000, packets: 10, octets: 12000, into: &b)
        let parsed = RTCPReport.parse(b)
        #expect(!parsed.malformed)
        #expect(parsed.reports == [RTCPReport(ssrc: 5, sender: RTCPSenderInfo(ntp: 0x0102_0304_0506_0708, rtpTime: 90000,
                                                                               packets: 10, octets: 12000), blocks: [])])
        var bye = ByteBuffer()
        RTCP.writeBye(ssrc: 6, into: &bye)
        #expect(RTCPReport.parse(bye).reports == [RTCPReport(ssrc: 6, sender: nil, blocks: [])])
    }

    @Test func truncatedAndHostileReportsKeepWhatCameBefore() {
        var b = ByteBuffer()
        RTCP.writeSenderReport(ssrc: 5, ntp: 1, rtpTime: 2, packets: 3, octets: 4, into: &b)
        let whole = b.readableBytes
        for cut in 0..<whole {
            var t = b
            t.moveWriterIndex(to: cut)
            _ = RTCPReport.parse(t)  // never traps
        }
        var lying = ByteBuffer(bytes: [0x9F, 201, 0x00, 0x01, 0, 0, 0, 1])  // 31 blocks claimed, none present
        #expect(RTCPReport.parse(lying).malformed)
        lying.writeBytes([0x80, 201, 0xFF, 0xFF])
        #expect(RTCPReport.parse(lying).reports.isEmpty)
        var rng = SplitMix64(seed: 3550)
        for _ in 0..<5000 {
            let bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = RTCPReport.parse(ByteBuffer(bytes: bytes))
        }
    }
}
