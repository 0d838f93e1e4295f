import NIOCore
import RelayCore
import RelayRTP
import RelayTestSupport
import Testing

/// Loss, reordering, size caps and hostile input through the depacketizers.
@Suite struct RTPDepacketizerLossTests {
    typealias RT = RTPRoundTripTests

    /// Index of the first unit that spans at least three packets, and its packets' range.
    static func fragmentedUnit(_ video: RT.Video) -> (unit: Int, packets: Range<Int>)? {
        var start = 0
        for unit in video.timestamps.indices {
            var end = start
            while end < video.packets.count, video.packets[end].timestamp == video.timestamps[unit] { end += 1 }
            if unit > 0, end - start >= 3 { return (unit, start..<end) }
            start = end
        }
        return nil
    }

    @Test(arguments: [NALPacketizer.Codec.h264, .h265])
    func aLostMiddleFragmentDropsOnlyItsUnit(codec: NALPacketizer.Codec) throws {
        let video = RT.packetize(codec == .h264 ? MediaFixtures.h264 : MediaFixtures.h265, codec: codec, maxPayload: 200)
        let (lost, range) = try #require(Self.fragmentedUnit(video))
        for drop in [range.lowerBound + 1, range.lowerBound] {  // a middle fragment, then the start
            var packets = video.packets
            packets.remove(at: drop)
            var d = H26xDepacketizer(codec: codec)
            let out = RT.depacketize(&d, packets)
            var expected = video.expected
            expected.remove(at: lost)
            #expect(try out.map(RT.nals) == expected, "only the unit that lost a fragment is missing")
            #expect(d.stats.droppedAccessUnits == 1 && d.stats.sequenceGaps == 1)
        }
    }

    @Test func aLostUnitBoundaryDoesNotDeliverAUnitMissingItsStart() throws {
        // Two slices in two packets; the packet of the first slice is lost.
        let first = [UInt8(0x41), 0x9A] + pattern(100), second = [UInt8(0x41), 0x40] + pattern(100)
        func packet(_ seq: UInt16, _ ts: UInt32, _ nal: [UInt8], marker: Bool) -> RTPPacket {
            RTPPacket(marker: marker, payloadType: 96, sequence: seq, timestamp: ts, ssrc: 1, payload: ByteBuffer(bytes: nal))
        }
        var d = H26xDepacketizer(codec: .h264)
        let out = RT.depacketize(&d, [
            packet(1, 0, first, marker: false), packet(2, 0, second, marker: true),
            packet(4, 3600, second, marker: true),  // 3 (its first slice) lost
            packet(5, 7200, first, marker: false), packet(6, 7200, second, marker: true),
        ])
        #expect(try out.map(RT.nals) == [[first, second], [first, second]])
        #expect(d.stats.droppedAccessUnits == 1)
    }

    @Test func aParameterSetChangeInADroppedUnitIsReportedWithTheNextOne() throws {
        func packet(_ seq: UInt16, _ ts: UInt32, _ nal: [UInt8], marker: Bool) -> RTPPacket {
            RTPPacket(marker: marker, payloadType: 96, sequence: seq, timestamp: ts, ssrc: 1, payload: ByteBuffer(bytes: nal))
        }
        let spsA: [UInt8] = [0x67, 0x42, 0xC0, 0x1E], spsB: [UInt8] = [0x67, 0x64, 0x00, 0x28]
        let idr: [UInt8] = [0x65, 0x88, 1], slice: [UInt8] = [0x41, 0x9A, 2]
        var d = H26xDepacketizer(codec: .h264)
        let out = RT.depacketize(&d, [
            packet(1, 0, spsA, marker: false), packet(2, 0, idr, marker: true),
            packet(3, 3600, spsB, marker: false), packet(5, 3600, idr, marker: true),  // 4 lost: unit dropped
            packet(6, 7200, slice, marker: true),
        ])
        #expect(out.map(\.parameterSetsChanged) == [true, true])
        #expect(d.parameterSets.sps.map { Array($0.readableBytesView) } == spsB)
        #expect(d.stats.droppedAccessUnits == 1)
    }

    @Test func aLostAACFragmentDropsOnlyItsUnit() throws {
        let units = [pattern(300), pattern(3000, seed: 2), pattern(400, seed: 3)]
        var writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 97, ssrc: 1, sequence: 0)
        var out = ByteBuffer()
        for (i, u) in units.enumerated() {
            AACPacketizer.packetize(ByteBuffer(bytes: u), timestamp: UInt32(i * 1024), writer: &writer, into: &out)
        }
        let packets = rfc4571Packets(out)
        #expect(packets.count == 5)
        for drop in [1, 2, 3] {  // first, middle and last fragment of the second unit
            var d = AACDepacketizer()
            var lossy = packets
            lossy.remove(at: drop)
            let got = RT.depacketize(&d, lossy)
            #expect(got.map { Array($0.payload.readableBytesView) } == [units[0], units[2]])
            #expect(d.stats.droppedAccessUnits == 1, "drop \(drop)")
        }
    }

    @Test(arguments: [NALPacketizer.Codec.h264, .h265])
    func reorderedPacketsGiveTheSameUnits(codec: NALPacketizer.Codec) throws {
        let video = RT.packetize(codec == .h264 ? MediaFixtures.h264 : MediaFixtures.h265, codec: codec, maxPayload: 300)
        var rng = SplitMix64(seed: 17)
        // The first packet comes first: it sets where the reorder buffer starts.
        var shuffled: [RTPPacket] = [video.packets[0]]
        for start in stride(from: 1, to: video.packets.count, by: 8) {
            shuffled += video.packets[start..<min(start + 8, video.packets.count)].shuffled(using: &rng)
        }
        #expect(shuffled.map(\.sequence) != video.packets.map(\.sequence))
        var track = RTPTrackReceiver(H26xDepacketizer(codec: codec), reorderWindow: 16)
        var out: [RTPAccessUnit] = []
        for p in shuffled { track.push(p) { out.append($0) } }
        track.flush { out.append($0) }
        #expect(try out.map(RT.nals) == video.expected)
        #expect(track.depacketizer.stats.droppedAccessUnits == 0 && track.reorder.stats.lost == 0)
        #expect(track.reorder.stats.reordered > 0)
    }

    @Test func aUnitOverTheCapIsDroppedAndTheNextDelivered() throws {
        let big = [UInt8(0x65), 0x88] + pattern(70_000), small = [UInt8(0x41), 0x9A, 1, 2]
        var writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 96, ssrc: 1, sequence: 0)
        var out = ByteBuffer()
        NALPacketizer.packetize(accessUnit([big]), codec: .h264, timestamp: 0, parameterSets: [], writer: &writer, into: &out)
        NALPacketizer.packetize(accessUnit([small, small]), codec: .h264, timestamp: 1, parameterSets: [], writer: &writer, into: &out)
        var d = H26xDepacketizer(codec: .h264, maxAccessUnitBytes: 64 << 10)
        let got = RT.depacketize(&d, rfc4571Packets(out))
        #expect(try got.map(RT.nals) == [[small, small]])
        #expect(d.stats.oversizeAccessUnits == 1 && d.stats.droppedAccessUnits == 1 && d.stats.malformedPackets == 0)

        var aac = AACDepacketizer(maxAccessUnitBytes: 1000)
        var w = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 97, ssrc: 1, sequence: 0)
        var a = ByteBuffer()
        AACPacketizer.packetize(ByteBuffer(bytes: pattern(4000)), timestamp: 0, writer: &w, into: &a)
        AACPacketizer.packetize(ByteBuffer(bytes: pattern(10)), timestamp: 1024, writer: &w, into: &a)
        let au = RT.depacketize(&aac, rfc4571Packets(a))
        #expect(au.map(\.payload.readableBytes) == [10])
        #expect(aac.stats.oversizeAccessUnits == 1 && aac.stats.droppedAccessUnits == 1)
    }

    @Test func hostileInputNeverTrapsAndIsCounted() {
        var rng = SplitMix64(seed: 1078)
        var h264 = H26xDepacketizer(codec: .h264, maxAccessUnitBytes: 4096)
        var h265 = H26xDepacketizer(codec: .h265, maxAccessUnitBytes: 4096)
        var aac = AACDepacketizer(sizeLength: 16, maxAccessUnitBytes: 4096)
        var g711 = G711Depacketizer()
        var delivered = 0
        for i in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let p = RTPPacket(marker: Bool.random(using: &rng), payloadType: 96, sequence: UInt16(truncatingIfNeeded: i),
                              timestamp: UInt32(i / 3), ssrc: 1, payload: ByteBuffer(bytes: bytes))
            h264.push(p) { delivered += $0.payload.readableBytes > 0 ? 1 : 0 }
            h265.push(p) { delivered += $0.payload.readableBytes > 0 ? 1 : 0 }
            aac.push(p) { delivered += $0.payload.readableBytes > 0 ? 1 : 0 }
            g711.push(p) { _ in }
        }
        #expect(h264.stats.malformedPackets > 0 && h265.stats.malformedPackets > 0 && aac.stats.malformedPackets > 0)
        #expect(h264.stats.droppedAccessUnits > 0 && h265.stats.droppedAccessUnits > 0)
        #expect(delivered > 0, "random bytes are sometimes valid units")

        // Truncated headers, one by one: each counted as malformed, none delivered.
        let truncated: [(NALPacketizer.Codec, [UInt8])] = [
            (.h264, [0x7C]),                    // FU-A without its FU header
            (.h264, [0x78, 0x00, 0x09, 0x67]),  // STAP-A size past the end
            (.h264, [0x78, 0x00]),              // STAP-A with half a size
            (.h264, [0x7C, 0x05, 1, 2]),        // FU-A continuation without a start
            (.h265, [0x62]),                    // FU with half a payload header
            (.h265, [0x62, 0x01]),              // FU without its FU header
            (.h265, [0x60, 0x01, 0xFF, 0xFF]),  // AP size past the end
            (.h265, [0x26]),                    // single NAL with half a header
        ]
        for (n, (codec, payload)) in truncated.enumerated() {
            var d = H26xDepacketizer(codec: codec)
            var got = 0
            d.push(RTPPacket(marker: true, payloadType: 96, sequence: 0, timestamp: 0, ssrc: 1, payload: ByteBuffer(bytes: payload))) { _ in got += 1 }
            #expect(got == 0 && d.stats.malformedPackets == 1 && d.stats.droppedAccessUnits == 1, "case \(n)")
        }
        for payload: [UInt8] in [[], [0x00], [0x00, 0x10], [0x00, 0x10, 0x00], [0xFF, 0xFF, 1, 2], [0x00, 0x00, 1]] {
            var d = AACDepacketizer()
            var got = 0
            d.push(RTPPacket(marker: true, payloadType: 97, sequence: 0, timestamp: 0, ssrc: 1, payload: ByteBuffer(bytes: payload))) { _ in got += 1 }
            #expect(got == 0 && d.stats.malformedPackets == 1, "\(payload)")
        }
    }

    @Test func duplicatesAreDroppedOnce() throws {
        let nal = [UInt8(0x41), 0x9A, 1]
        let p = RTPPacket(marker: true, payloadType: 96, sequence: 9, timestamp: 0, ssrc: 1, payload: ByteBuffer(bytes: nal))
        var d = H26xDepacketizer(codec: .h264)
        let got = RT.depacketize(&d, [p, p])
        #expect(try got.map(RT.nals) == [[nal]])
        #expect(d.stats.duplicatePackets == 1)
    }
}
