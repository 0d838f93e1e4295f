import NIOCore
import RelayCore
@testable import RelayRTP
import RelayTestSupport
import Testing

@Suite struct PacketizerTests {
    func writer(maxPayload: Int = 1400) -> RTPPacketWriter {
        RTPPacketWriter(channel: 2, payloadType: 96, ssrc: 0x1122_3344, sequence: 65530, maxPayload: maxPayload)
    }

    func checkSequence(_ packets: [ParsedRTP], from first: UInt16, timestamp: UInt32) {
        for (i, p) in packets.enumerated() {
            #expect(p.header.sequence == first &+ UInt16(i))
            #expect(p.header.timestamp == timestamp)
            #expect(p.header.ssrc == 0x1122_3344)
            #expect(p.channel == 2)
            #expect(p.header.marker == (i == packets.count - 1), "marker only on the access unit's last packet")
        }
    }

    @Test func largeH264IDRIsSplitIntoFUAAndReassembles() throws {
        let sps = [UInt8]([0x67, 0x42, 0xC0, 0x1F, 0xDA])
        let pps = [UInt8]([0x68, 0xCE, 0x0F, 0xC8])
        let idr = [UInt8(0x65)] + pattern(50_000)
        var w = writer()
        var out = ByteBuffer()
        NALPacketizer.packetize(accessUnit([[0x09, 0xF0], idr]), codec: .h264, timestamp: 9000,
                                parameterSets: [ByteBuffer(bytes: sps), ByteBuffer(bytes: pps)], writer: &w, into: &out)
        let packets = parseFrames(out)
        let fuCount = (idr.count - 1 + 1397) / 1398
        #expect(packets.count == 2 + fuCount, "SPS, PPS, then FU-A fragments; the AUD is dropped")
        #expect(packets.allSatisfy { $0.payload.count <= 1400 })
        #expect(packets[2].payload[0] == 0x7C && packets[2].payload[1] == 0x85, "FU indicator NRI 3 type 28, start bit, type 5")
        #expect(packets.last!.payload[1] == 0x45, "end bit, type 5")
        checkSequence(packets, from: 65530, timestamp: 9000)
        #expect(w.sequence == 65530 &+ UInt16(packets.count))
        #expect(w.packetCount == UInt32(packets.count))
        #expect(w.octetCount == UInt32(packets.reduce(0) { $0 + $1.payload.count }))

        let d = try depacketizeNALs(packets, codec: .h264)
        #expect(d.stats.droppedAccessUnits == 0 && d.stats.malformedPackets == 0)
        #expect(d.units == [[sps, pps, idr]])
    }

    /// An access unit of millions of tiny NAL units would become as many RTP packets: at most
    /// `maxNALUnits` are sent, the last with the marker.
    @Test func aFloodOfTinyNALUnitsIsCutAtTheCap() {
        var w = writer()
        var out = ByteBuffer()
        let tiny = [[UInt8]](repeating: [0x41], count: 100_000)
        NALPacketizer.packetize(accessUnit(tiny), codec: .h264, timestamp: 1, parameterSets: [], writer: &w, into: &out)
        let packets = parseFrames(out)
        #expect(packets.count == NALPacketizer.maxNALUnits)
        #expect(packets.last?.header.marker == true)
    }

    @Test func parameterSetsAreNotRepeatedWhenTheUnitHasThem() {
        let sps = [UInt8]([0x67, 1, 2]), pps = [UInt8]([0x68, 3]), slice = [UInt8]([0x65, 4, 5])
        var w = writer()
        var out = ByteBuffer()
        NALPacketizer.packetize(accessUnit([sps, pps, slice]), codec: .h264, timestamp: 1,
                                parameterSets: [ByteBuffer(bytes: [0x67, 9]), ByteBuffer(bytes: [0x68, 9])], writer: &w, into: &out)
        let packets = parseFrames(out)
        #expect(packets.map(\.payload) == [sps, pps, slice], "small NAL units go as single NAL unit packets")
        checkSequence(packets, from: 65530, timestamp: 1)
    }

    @Test func largeH265IRAPIsSplitIntoFUsAndReassembles() throws {
        let vps: [UInt8] = [0x40, 0x01, 0x0C], sps: [UInt8] = [0x42, 0x01, 0x01], pps: [UInt8] = [0x44, 0x01, 0xC0]
        let idr = [UInt8(0x26), 0x01] + pattern(30_000, seed: 7)  // IDR_W_RADL, TID 1
        let trail = [UInt8(0x02), 0x01] + pattern(900)
        var w = writer(maxPayload: 1000)
        var out = ByteBuffer()
        NALPacketizer.packetize(accessUnit([[0x46, 0x01, 0x10], idr, trail]), codec: .h265, timestamp: 77,
                                parameterSets: [vps, sps, pps].map { ByteBuffer(bytes: $0) }, writer: &w, into: &out)
        let packets = parseFrames(out)
        #expect(packets.allSatisfy { $0.payload.count <= 1000 })
        let fus = packets.filter { ($0.payload[0] >> 1) & 0x3F == 49 }
        #expect(fus.count == (idr.count - 2 + 996) / 997)
        #expect(fus.first!.payload[0] == 49 << 1 && fus.first!.payload[1] == 0x01 && fus.first!.payload[2] == 0x80 | 19)
        checkSequence(packets, from: 65530, timestamp: 77)
        let d = try depacketizeNALs(packets, codec: .h265)
        #expect(d.stats.droppedAccessUnits == 0 && d.stats.malformedPackets == 0)
        #expect(d.units == [[vps, sps, pps, idr, trail]], "the AUD is dropped")
    }

    @Test func aTruncatedUnitSendsWhatIsValidAndStillEndsWithTheMarker() {
        var au = accessUnit([[0x41, 1, 2, 3]])
        au.writeInteger(UInt32(1000))
        au.writeBytes([0x41, 9])
        var w = writer()
        var out = ByteBuffer()
        NALPacketizer.packetize(au, codec: .h264, timestamp: 5, parameterSets: [], writer: &w, into: &out)
        let packets = parseFrames(out)
        #expect(packets.map(\.payload) == [[0x41, 1, 2, 3]])
        #expect(packets.first?.header.marker == true)
    }

    @Test func aacAUHeaders() {
        let au = pattern(300)
        var w = RTPPacketWriter(channel: 4, payloadType: 97, ssrc: 9, sequence: 0)
        var out = ByteBuffer()
        AACPacketizer.packetize(ByteBuffer(bytes: au), timestamp: 1024, writer: &w, into: &out)
        let packets = parseFrames(out)
        #expect(packets.count == 1)
        #expect(Array(packets[0].payload.prefix(4)) == [0x00, 0x10, UInt8(300 >> 5), UInt8((300 & 0x1F) << 3)])
        #expect(Array(packets[0].payload.dropFirst(4)) == au)
        #expect(packets[0].header.marker && packets[0].header.timestamp == 1024 && packets[0].channel == 4)
    }

    @Test func aacAUBiggerThanAPacketIsFragmented() {
        let au = pattern(3000, seed: 3)
        var w = RTPPacketWriter(channel: 4, payloadType: 97, ssrc: 9, sequence: 10)
        var out = ByteBuffer()
        AACPacketizer.packetize(ByteBuffer(bytes: au), timestamp: 7, writer: &w, into: &out)
        let packets = parseFrames(out)
        #expect(packets.count == 3)
        var joined: [UInt8] = []
        for (i, p) in packets.enumerated() {
            let size = (Int(p.payload[2]) << 8 | Int(p.payload[3])) >> 3
            #expect(size == 3000, "every fragment names the whole AU's size")
            #expect(p.header.marker == (i == 2))
            #expect(p.header.timestamp == 7)
            joined += p.payload.dropFirst(4)
        }
        #expect(joined == au)
        var none = ByteBuffer()
        AACPacketizer.packetize(ByteBuffer(bytes: pattern(9000)), timestamp: 0, writer: &w, into: &none)
        #expect(none.readableBytes == 0, "a 13-bit size cannot describe 9000 bytes")
    }

    @Test func g711SplitsWithAdvancingTimestamps() {
        var w = RTPPacketWriter(channel: 2, payloadType: 8, ssrc: 1, sequence: 0)
        var out = ByteBuffer()
        let frame = pattern(3200)
        G711Packetizer.packetize(ByteBuffer(bytes: frame), timestamp: 0xFFFF_FF00, channels: 1, writer: &w, into: &out)
        let packets = parseFrames(out)
        #expect(packets.map(\.payload.count) == [1400, 1400, 400])
        #expect(packets.map(\.header.timestamp) == [0xFFFF_FF00, 0xFFFF_FF00 &+ 1400, 0xFFFF_FF00 &+ 2800])
        #expect(packets.flatMap(\.payload) == frame)
        #expect(packets.allSatisfy { $0.header.payloadType == 8 && !$0.header.marker })
        var stereo = ByteBuffer()
        G711Packetizer.packetize(ByteBuffer(bytes: pattern(2000)), timestamp: 0, channels: 2, writer: &w, into: &stereo)
        #expect(parseFrames(stereo).map(\.header.timestamp) == [0, 700])
    }
}
