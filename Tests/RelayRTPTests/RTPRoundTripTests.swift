import NIOCore
import RelayCore
import RelayRTP
import RelayTestSupport
import Testing

/// Packetize → depacketize gives the same access units, byte for byte (issue 17).
@Suite struct RTPRoundTripTests {
    static func isKey(_ nal: [UInt8], _ codec: NALPacketizer.Codec) -> Bool {
        guard let b0 = nal.first else { return false }
        return codec == .h264 ? b0 & 0x1F == 5 : (16...23).contains((b0 >> 1) & 0x3F)
    }

    static func isParameterSet(_ nal: [UInt8], _ codec: NALPacketizer.Codec) -> Bool {
        guard let b0 = nal.first else { return false }
        return codec == .h264 ? (7...8).contains(b0 & 0x1F) : (32...34).contains((b0 >> 1) & 0x3F)
    }

    struct Video {
        var packets: [RTPPacket] = []
        /// What the depacketizer must give back: the units, with the parameter sets the
        /// packetizer sends in band before key frames that lack them.
        var expected: [[[UInt8]]] = []
        var keys: [Bool] = []
        var timestamps: [UInt32] = []
    }

    /// Each unit 3600 ticks after the one before, starting just before the 32-bit wrap.
    static func packetize(_ units: [[[UInt8]]], codec: NALPacketizer.Codec, maxPayload: Int = 1400) -> Video {
        let sets = units.first?.filter { isParameterSet($0, codec) } ?? []
        var writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 96, ssrc: 7, sequence: 65000, maxPayload: maxPayload)
        var out = ByteBuffer()
        var video = Video()
        for (i, unit) in units.enumerated() {
            let ts = UInt32(0xFFFF_0000) &+ UInt32(i) &* 3600
            let key = unit.contains { isKey($0, codec) }
            NALPacketizer.packetize(accessUnit(unit), codec: codec, timestamp: ts, parameterSets: key ? sets.map { ByteBuffer(bytes: $0) } : [],
                                    writer: &writer, into: &out)
            let hasSPS = unit.contains { isParameterSet($0, codec) }
            video.expected.append(key && !hasSPS ? sets + unit : unit)
            video.keys.append(key)
            video.timestamps.append(ts)
        }
        video.packets = rfc4571Packets(out)
        return video
    }

    static func depacketize<D: RTPDepacketizer>(_ d: inout D, _ packets: [RTPPacket]) -> [RTPAccessUnit] {
        var units: [RTPAccessUnit] = []
        for p in packets { d.push(p) { units.append($0) } }
        d.flush { units.append($0) }
        return units
    }

    static func nals(_ unit: RTPAccessUnit) throws -> [[UInt8]] {
        try AnnexB.nalUnits(lengthPrefixed: unit.payload).map { Array($0.readableBytesView) }
    }

    func videoRoundTrip(_ units: [[[UInt8]]], codec: NALPacketizer.Codec) throws {
        let video = Self.packetize(units, codec: codec)
        #expect(video.packets.count > units.count, "some units span several packets")
        var d = H26xDepacketizer(codec: codec)
        let out = Self.depacketize(&d, video.packets)
        #expect(out.count == units.count)
        #expect(try out.map(Self.nals) == video.expected)
        #expect(out.map(\.isKeyFrame) == video.keys)
        #expect(out.map(\.rtpTime) == video.timestamps.indices.map { Int64(0xFFFF_0000) + Int64($0) * 3600 },
                "timestamps unwrapped past 2^32")
        #expect(out.first?.parameterSetsChanged == true)
        #expect(d.stats.accessUnits == UInt64(units.count))
        #expect(d.stats.droppedAccessUnits == 0 && d.stats.malformedPackets == 0 && d.stats.sequenceGaps == 0)
        let sets = units[0].filter { Self.isParameterSet($0, codec) }
        let reported = [d.parameterSets.vps, d.parameterSets.sps, d.parameterSets.pps].compactMap { $0.map { Array($0.readableBytesView) } }
        #expect(reported == sets, "the in-band parameter sets are reported")
    }

    @Test func h264AccessUnitsSurviveTheRoundTrip() throws {
        try videoRoundTrip(MediaFixtures.h264, codec: .h264)
    }

    @Test func h265AccessUnitsSurviveTheRoundTrip() throws {
        let units = MediaFixtures.h265
        #expect(units.contains { $0.contains { $0.count > 1400 } }, "an IRAP bigger than the MTU goes as FUs")
        try videoRoundTrip(units, codec: .h265)
    }

    @Test func syntheticUnitsSurviveTheRoundTrip() throws {
        // The path that runs without ffmpeg, checked even where ffmpeg is installed.
        try videoRoundTrip(MediaFixtures.syntheticVideo(hevc: false), codec: .h264)
        try videoRoundTrip(MediaFixtures.syntheticVideo(hevc: true), codec: .h265)
    }

    @Test func h264AndAACTogether() throws {
        // The "H.264 + AAC": two tracks, each through its own depacketizer.
        try videoRoundTrip(MediaFixtures.h264, codec: .h264)
        try aacRoundTrip(MediaFixtures.aac)
    }

    func aacRoundTrip(_ units: [[UInt8]], maxPayload: Int = 1400) throws {
        var writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 97, ssrc: 8, sequence: 100, maxPayload: maxPayload)
        var out = ByteBuffer()
        for (i, unit) in units.enumerated() {
            AACPacketizer.packetize(ByteBuffer(bytes: unit), timestamp: UInt32(i * 1024), writer: &writer, into: &out)
        }
        var d = AACDepacketizer()
        let got = Self.depacketize(&d, rfc4571Packets(out))
        #expect(got.map { Array($0.payload.readableBytesView) } == units)
        #expect(got.map(\.rtpTime) == units.indices.map { Int64($0 * 1024) })
        #expect(d.stats.droppedAccessUnits == 0 && d.stats.malformedPackets == 0)
    }

    @Test func aacAccessUnitsSurviveTheRoundTripIncludingAFragmentedOne() throws {
        var units = MediaFixtures.aac
        units.insert(pattern(5000, seed: 4), at: 3)  // bigger than a packet: fragmented
        try aacRoundTrip(units)
        try aacRoundTrip(units, maxPayload: 100)  // most units fragmented
    }

    @Test func severalAACUnitsInOnePacket() {
        let units = [pattern(200), pattern(7, seed: 2), pattern(1000, seed: 3)]
        var payload = ByteBuffer()
        payload.writeInteger(UInt16(16 * units.count))
        for u in units { payload.writeInteger(UInt16(u.count << 3)) }
        for u in units { payload.writeBytes(u) }
        var d = AACDepacketizer()
        let got = Self.depacketize(&d, [RTPPacket(marker: true, payloadType: 97, sequence: 1, timestamp: 4096, ssrc: 1, payload: payload)])
        #expect(got.map { Array($0.payload.readableBytesView) } == units)
        #expect(got.map(\.rtpTime) == [4096, 5120, 6144])
    }

    @Test func g711SamplesSurviveTheRoundTrip() {
        var writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 8, ssrc: 9, sequence: 0xFFFF)
        var out = ByteBuffer()
        let frames = [pattern(160), pattern(3200, seed: 5), pattern(320, seed: 6)]
        var ts: UInt32 = 0xFFFF_FF00
        for f in frames {
            G711Packetizer.packetize(ByteBuffer(bytes: f), timestamp: ts, channels: 1, writer: &writer, into: &out)
            ts &+= UInt32(f.count)
        }
        let packets = rfc4571Packets(out)
        var d = G711Depacketizer()
        let got = Self.depacketize(&d, packets)
        #expect(got.flatMap { Array($0.payload.readableBytesView) } == frames.flatMap { $0 })
        #expect(got.map(\.rtpTime) == packets.map { Int64(0xFFFF_FF00) + Int64($0.timestamp &- 0xFFFF_FF00) })
        #expect(got.allSatisfy(\.isKeyFrame) && d.stats.accessUnits == UInt64(packets.count))
    }

    @Test func stapAAndAPCarrySeveralNALUnits() throws {
        func aggregate(_ header: [UInt8], _ nals: [[UInt8]]) -> ByteBuffer {
            var b = ByteBuffer(bytes: header)
            for n in nals {
                b.writeInteger(UInt16(n.count))
                b.writeBytes(n)
            }
            return b
        }
        let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1F], pps: [UInt8] = [0x68, 0xCE, 0x0F], idr: [UInt8] = [0x65, 0x88, 1, 2, 3]
        var h264 = H26xDepacketizer(codec: .h264)
        let a = Self.depacketize(&h264, [
            RTPPacket(marker: true, payloadType: 96, sequence: 1, timestamp: 0, ssrc: 1, payload: aggregate([0x78], [sps, pps, idr])),
        ])
        #expect(try a.map(Self.nals) == [[sps, pps, idr]])
        #expect(a.first?.isKeyFrame == true && h264.parameterSets.sps.map { Array($0.readableBytesView) } == sps)

        let vps: [UInt8] = [0x40, 0x01, 0x0C], sps5: [UInt8] = [0x42, 0x01, 0x01], pps5: [UInt8] = [0x44, 0x01, 0xC1]
        let irap = [UInt8(0x26), 0x01, 0x80] + pattern(3000)
        var writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 96, ssrc: 1, sequence: 2)
        var out = ByteBuffer()
        NALPacketizer.packetize(accessUnit([irap]), codec: .h265, timestamp: 90, parameterSets: [], writer: &writer, into: &out)
        var h265 = H26xDepacketizer(codec: .h265)
        let b = Self.depacketize(&h265, [
            RTPPacket(marker: false, payloadType: 96, sequence: 1, timestamp: 90, ssrc: 1, payload: aggregate([0x60, 0x01], [vps, sps5, pps5])),
        ] + rfc4571Packets(out))
        #expect(try b.map(Self.nals) == [[vps, sps5, pps5, irap]])
        #expect(b.first?.isKeyFrame == true && b.first?.parameterSetsChanged == true)
        #expect(h265.parameterSets.vps.map { Array($0.readableBytesView) } == vps)
    }
}

/// The packets of an RFC 4571 buffer.
func rfc4571Packets(_ buffer: ByteBuffer) -> [RTPPacket] {
    var rest = buffer
    var out: [RTPPacket] = []
    while let length = rest.readInteger(as: UInt16.self), let frame = rest.readSlice(length: Int(length)) {
        if let p = try? RTPPacket(parsing: frame) { out.append(p) }
    }
    return out
}
