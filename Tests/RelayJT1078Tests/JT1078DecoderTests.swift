import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import RelayJT1078

@Suite struct JT1078HeaderTests {
    /// A 2016 video package written byte by byte from table 19, not by our packetizer.
    @Test func parses2016VideoHeaderFromTheStandardsLayout() throws {
        var b = ByteBuffer()
        b.writeBytes([0x30, 0x31, 0x63, 0x64])  // frame header mark
        b.writeBytes([0x81])                    // V=2 P=0 X=0 CC=1
        b.writeBytes([0x80 | 98])               // M=1, PT=98 (H.264)
        b.writeInteger(UInt16(0x1234))          // sequence
        b.writeBytes([0x01, 0x39, 0x12, 0x34, 0x56, 0x78])  // SIM 013912345678
        b.writeBytes([0x03])                    // logical channel 3
        b.writeBytes([0x02])                    // I frame (0), last sub-package (2)
        b.writeInteger(UInt64(1_700_000_000_123))
        b.writeInteger(UInt16(400))             // last I frame interval
        b.writeInteger(UInt16(40))              // last frame interval
        b.writeInteger(UInt16(5))
        b.writeBytes([0, 0, 0, 1, 0x65])
        #expect(b.readableBytes == 30 + 5)

        var decoder = JT1078FrameDecoder(version: .v2016)
        let packets = try decodeAll([b], decoder: &decoder, finish: true)
        let p = try #require(packets.first)
        #expect(packets.count == 1)
        #expect(p.version == .v2016 && p.vpxcc == 0x81 && p.marker && p.payloadType == 98 && p.sequence == 0x1234)
        #expect(p.sim == "013912345678" && p.channel == 3)
        #expect(p.dataType == .iFrame && p.subpackage == .last)
        #expect(p.timestamp == 1_700_000_000_123 && p.lastIFrameInterval == 400 && p.lastFrameInterval == 40)
        #expect(p.body == bytes([0, 0, 0, 1, 0x65]))
        #expect(JT1078StreamID.make(sim: p.sim, channel: p.channel, stripLeadingZeros: true) == "13912345678/3")
        #expect(JT1078StreamID.make(sim: p.sim, channel: p.channel, stripLeadingZeros: false) == "013912345678/3")
        #expect(JT1078StreamID.make(sim: "000000000000", channel: 1, stripLeadingZeros: true) == "0/1")
    }

    /// 2019: a 10-byte SIM; audio has no interval fields, transparent data no timestamp either.
    @Test func parses2019AudioAndTransparentHeaders() throws {
        var b = ByteBuffer()
        b.writeBytes([0x30, 0x31, 0x63, 0x64, 0x81, 0x80 | 6])
        b.writeInteger(UInt16(7))
        b.writeBytes([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x39, 0x12, 0x34])  // 20 digits
        b.writeBytes([0x02, 0x30])  // channel 2, audio, atomic
        b.writeInteger(UInt64(99))
        b.writeInteger(UInt16(3))
        b.writeBytes([0xD5, 0xD5, 0xD5])
        #expect(b.readableBytes == 30 + 3)
        b.writeBytes([0x30, 0x31, 0x63, 0x64, 0x81, 0x00])
        b.writeInteger(UInt16(8))
        b.writeBytes([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x39, 0x12, 0x34])
        b.writeBytes([0x02, 0x40])  // transparent, atomic
        b.writeInteger(UInt16(2))
        b.writeBytes([0xAA, 0xBB])
        #expect(b.readableBytes == 33 + 22 + 2)

        var decoder = JT1078FrameDecoder(version: .v2019)
        let packets = try decodeAll([b], decoder: &decoder, finish: true)
        try #require(packets.count == 2)
        #expect(packets[0].sim == "00000000000001391234")
        #expect(packets[0].dataType == .audio && packets[0].payloadType == 6 && packets[0].timestamp == 99)
        #expect(packets[0].lastIFrameInterval == nil && packets[0].lastFrameInterval == nil)
        #expect(packets[0].body == bytes([0xD5, 0xD5, 0xD5]))
        #expect(packets[1].dataType == .transparent && packets[1].timestamp == nil && packets[1].body == bytes([0xAA, 0xBB]))
        #expect(JT1078StreamID.make(sim: packets[1].sim, channel: 2, stripLeadingZeros: true) == "1391234/2")
    }

    @Test(arguments: [JT1078Version.v2016, .v2019])
    func headerLengths(version: JT1078Version) {
        let extra = version == .v2019 ? 4 : 0
        #expect(JT1078Header.length(version, .iFrame) == 30 + extra)
        #expect(JT1078Header.length(version, .bFrame) == 30 + extra)
        #expect(JT1078Header.length(version, .audio) == 26 + extra)
        #expect(JT1078Header.length(version, .transparent) == 18 + extra)
    }

    @Test func invalidHeadersAreRecognisedFromTheirOwnBytes() {
        var w = Wire()
        let good = w.frame(bytes([1, 2, 3]), ts: 1)
        #expect(JT1078Header.parse(good, at: 0, version: .v2016, maxBody: 950) == .valid(headerLength: 30, total: 33))
        #expect(JT1078Header.parse(good.getSlice(at: 0, length: 20)!, at: 0, version: .v2016, maxBody: 950) == .needMore)
        // A body of 951 bytes is only too long for the configured maximum.
        var longer = good
        longer.setInteger(UInt16(951), at: 28)
        #expect(JT1078Header.parse(longer, at: 0, version: .v2016, maxBody: 1400) == .valid(headerLength: 30, total: 981))
    }

    /// One field of a valid 2016 header spoiled.
    struct Spoiled: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let offset: Int
        let bytes: [UInt8]
    }

    @Test(arguments: [
        Spoiled(testDescription: "SIM digit not BCD", offset: 9, bytes: [0x1A]),
        Spoiled(testDescription: "data type 5", offset: 15, bytes: [0x50]),
        Spoiled(testDescription: "subpackage mark 4", offset: 15, bytes: [0x14]),
        Spoiled(testDescription: "body 951 > max 950", offset: 28, bytes: [0x03, 0xB7]),
    ])
    func aSpoiledHeaderIsInvalid(_ spoiled: Spoiled) {
        var w = Wire()
        var header = w.frame(bytes([1, 2, 3]), ts: 1)
        header.setBytes(spoiled.bytes, at: spoiled.offset)
        #expect(isInvalid(JT1078Header.parse(header, at: 0, version: .v2016, maxBody: 950)))
    }

    private func isInvalid(_ p: JT1078Header.Parse) -> Bool {
        if case .invalid = p { return true }
        return false
    }

    @Test func packetizerSplitsAtMaxBodyWithMarksAndMarker() throws {
        for version in [JT1078Version.v2016, .v2019] {
            var w = Wire(version, sim: "13912345678", channel: 5)
            let frame = Fixtures.keyFrameH264(size: 2500)
            var stream = w.frame(frame, type: .iFrame, ts: 1000)
            stream.writeImmutableBuffer(w.frame(Fixtures.deltaFrameH264(), ts: 1040))
            var decoder = JT1078FrameDecoder(version: version)
            let packets = try decodeAll([stream], decoder: &decoder, finish: true)
            let count = (frame.readableBytes + 949) / 950
            try #require(packets.count == count + 1)
            #expect(packets.prefix(count).map(\.subpackage) == [.first] + Array(repeating: .middle, count: count - 2) + [.last])
            #expect(packets.prefix(count).map(\.marker) == Array(repeating: false, count: count - 1) + [true])
            #expect(packets.prefix(count).allSatisfy { $0.body.readableBytes <= 950 && $0.timestamp == 1000 && $0.channel == 5 })
            #expect(packets[0].sim == (version == .v2016 ? "013912345678" : "00000000013912345678"))
            #expect(packets.map(\.sequence) == (0..<UInt16(count + 1)).map { $0 })
            #expect(packets[count].subpackage == .atomic && packets[count].lastFrameInterval == 40)
            var joined = ByteBuffer()
            for p in packets.prefix(count) { joined.writeImmutableBuffer(p.body) }
            #expect(joined == frame)
        }
    }
}

@Suite struct JT1078DecoderTests {
    /// Several packages of a few kinds, 2016 or 2019.
    static func sample(_ version: JT1078Version, channel: UInt8 = 1, ts: UInt64 = 0) -> (ByteBuffer, [JT1078Packet]) {
        var w = Wire(version, channel: channel)
        var stream = ByteBuffer()
        stream.writeImmutableBuffer(w.frame(Fixtures.keyFrameH264(size: 2000), type: .iFrame, ts: ts))
        stream.writeImmutableBuffer(w.frame(bytes(Array(repeating: 0xD5, count: 320)), pt: JT1078PayloadType.g711a, type: .audio, ts: ts + 20))
        stream.writeImmutableBuffer(w.frame(Fixtures.deltaFrameH264(size: 600), ts: ts + 40))
        var t = ByteBuffer()
        w.packetizer.write(bytes([1, 2, 3]), marker: true, payloadType: 0, dataType: .transparent, mark: .atomic, timestamp: 0, into: &t)
        stream.writeImmutableBuffer(t)
        var decoder = JT1078FrameDecoder(version: version)
        let packets = try! decodeAll([stream], decoder: &decoder, finish: true)
        return (stream, packets)
    }

    @Test(arguments: [JT1078Version.v2016, .v2019])
    func verifierWithEveryReadSplit(version: JT1078Version) throws {
        // Each input holds several packages; the same decoder sees all of them, split every way.
        let (a, pa) = Self.sample(version, channel: 1)
        let (b, pb) = Self.sample(version, channel: 2, ts: 5000)
        #expect(pa.count == 6 && pb.count == 6)
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: [(a, pa), (b, pb)]) {
            JT1078FrameDecoder(version: version)
        }
    }

    /// Auto-detection: the same packages, the right layout, whatever the split point (every byte
    /// boundary of the first packages, where detection happens).
    @Test(arguments: [JT1078Version.v2016, .v2019])
    func detectionAtEveryByteBoundary(version: JT1078Version) throws {
        let (stream, expected) = Self.sample(version)
        for split in 1..<min(stream.readableBytes, 2600) {
            var decoder = JT1078FrameDecoder()
            let chunks = [stream.getSlice(at: 0, length: split)!, stream.getSlice(at: split, length: stream.readableBytes - split)!]
            let packets = try decodeAll(chunks, decoder: &decoder, finish: true)
            #expect(packets == expected, "split at \(split)")
            #expect(decoder.version == version)
            if packets != expected { break }
        }
        // Byte by byte.
        var decoder = JT1078FrameDecoder()
        let bytewise = (0..<stream.readableBytes).map { stream.getSlice(at: $0, length: 1)! }
        #expect(try decodeAll(bytewise, decoder: &decoder, finish: true) == expected)
        #expect(decoder.version == version && !decoder.isPinned)
    }

    @Test(arguments: [JT1078Version.v2016, .v2019])
    func garbageBeforeAndBetweenPackagesIsSkipped(version: JT1078Version) throws {
        let (clean, expected) = Self.sample(version)
        var packages: [ByteBuffer] = []
        var at = clean.readerIndex
        for p in expected {
            let total = JT1078Header.length(version, p.dataType) + p.body.readableBytes
            packages.append(clean.getSlice(at: at, length: total)!)
            at += total
        }
        let garbage: [[UInt8]] = [
            [0x30, 0x31, 0x63],                          // a partial magic
            Array("GET / HTTP/1.1\r\n".utf8),
            [0x30, 0x31, 0x63, 0x64, 0xFF, 0xFF, 0xFF],   // a magic with an impossible header
            [0x30, 0x31, 0x63, 0x64] + Array(repeating: 0x11, count: 40),  // valid-looking header, no magic after it
            [0x00, 0x00, 0x00, 0x01, 0x65],
            [0x30], [], [0x64, 0x63],
        ]
        // Garbage before the first package (its successor follows at once: a connection's first
        // package is confirmed by the next), then between every further pair.
        var dirty = ByteBuffer()
        var expectedGarbage = 0
        for (i, p) in packages.enumerated() where i != 1 {
            dirty.writeBytes(garbage[i % garbage.count])
            expectedGarbage += garbage[i % garbage.count].count
            dirty.writeImmutableBuffer(p)
            if i == 0 { dirty.writeImmutableBuffer(packages[1]) }
        }
        for mode in [version, nil] as [JT1078Version?] {
            for chunkSize in [1, 7, 100, 100_000] {
                var decoder = JT1078FrameDecoder(version: mode)
                let got = try decodeAll(chunks(dirty, size: chunkSize), decoder: &decoder, finish: true)
                #expect(got.count == expected.count, "mode \(String(describing: mode)) chunk \(chunkSize)")
                for (g, e) in zip(got, expected) {
                    var e = e
                    e.discardedBefore = g.discardedBefore
                    #expect(g == e)
                }
                let reported = got.reduce(0) { $0 + $1.discardedBefore }
                #expect(reported == expectedGarbage)
                #expect(decoder.version == version)
            }
        }
    }

    /// A package whose length field claims more bytes than it has: the next package starts inside
    /// its "body". The liar is dropped, the next package and everything after it survive.
    @Test(arguments: [JT1078Version.v2016, .v2019])
    func lengthFieldPointingPastTheEnd(version: JT1078Version) throws {
        var w = Wire(version)
        var stream = ByteBuffer()
        stream.writeImmutableBuffer(w.frame(Fixtures.deltaFrameH264(size: 100), ts: 0))
        let liar = w.package(Fixtures.deltaFrameH264(size: 100), mark: .atomic, ts: 40, bodyLength: 700)
        stream.writeImmutableBuffer(liar)
        var after: [ByteBuffer] = []
        for i in 0..<5 { after.append(w.frame(Fixtures.deltaFrameH264(size: 300, seed: UInt8(i)), ts: 80 + UInt64(i) * 40)) }
        for a in after { stream.writeImmutableBuffer(a) }

        for split in [1, 13, 64, 100_000] {
            var decoder = JT1078FrameDecoder(version: version)
            let got = try decodeAll(chunks(stream, size: split), decoder: &decoder, finish: true)
            #expect(got.map(\.timestamp) == [0, 80, 120, 160, 200, 240], "split \(split)")
            #expect(got.count > 1 && got[1].discardedBefore == liar.readableBytes)
        }
    }

    /// Garbage that reads as a valid header whose bytes overlap the real package after it (here:
    /// an empty "I frame" made of 9 garbage bytes and the real header): the real package wins.
    @Test(arguments: [JT1078Version.v2016, nil])
    func garbageHeaderOverlappingARealOne(mode: JT1078Version?) throws {
        var w = Wire(.v2016)  // the fake's length field reads the real timestamp's high bytes: 0
        var stream = w.frame(Fixtures.deltaFrameH264(size: 100), ts: 0)
        stream.writeImmutableBuffer(w.frame(Fixtures.deltaFrameH264(size: 100), ts: 40))
        stream.writeBytes([0x30, 0x31, 0x63, 0x64, 0x81, 0x62, 0x00, 0x00, 0x02])
        let real = w.frame(Fixtures.deltaFrameH264(size: 100), ts: 80)
        stream.writeImmutableBuffer(real)
        stream.writeImmutableBuffer(w.frame(Fixtures.deltaFrameH264(size: 100), ts: 120))
        // The fake really is a valid header on its own.
        var fake = ByteBuffer(bytes: [0x30, 0x31, 0x63, 0x64, 0x81, 0x62, 0x00, 0x00, 0x02])
        fake.writeImmutableBuffer(real)
        #expect(JT1078Header.parse(fake, at: 0, version: .v2016, maxBody: 950) == .valid(headerLength: 30, total: 30))
        var decoder = JT1078FrameDecoder(version: mode)
        let got = try decodeAll([stream], decoder: &decoder, finish: true)
        #expect(got.map(\.timestamp) == [0, 40, 80, 120])
        #expect(got.map(\.discardedBefore) == [0, 0, 9, 0])
    }

    /// A length field past the end of the connection: nothing is invented at EOF.
    @Test func truncatedLastPackageYieldsNothing() throws {
        var w = Wire()
        var stream = w.frame(Fixtures.deltaFrameH264(size: 100), ts: 0)
        stream.writeImmutableBuffer(w.package(Fixtures.deltaFrameH264(size: 100), mark: .atomic, ts: 40, bodyLength: 900))
        var decoder = JT1078FrameDecoder(version: .v2016)
        let got = try decodeAll([stream], decoder: &decoder, finish: true)
        #expect(got.map(\.timestamp) == [0])
    }

    /// A 2016 terminal on a port pinned to 2019 yields no packages (and, past the bound, an error).
    @Test func otherLayoutOnAPinnedPortYieldsNothing() throws {
        let (stream2016, _) = Self.sample(.v2016)
        var decoder = JT1078FrameDecoder(version: .v2019, maxGarbageBytes: 64 << 10)
        #expect(try decodeAll([stream2016], decoder: &decoder, finish: true).isEmpty)
        var big = ByteBuffer()
        for _ in 0..<40 { big.writeImmutableBuffer(stream2016) }
        var strict = JT1078FrameDecoder(version: .v2019, maxGarbageBytes: 64 << 10)
        #expect(throws: JT1078Error.self) { _ = try decodeAll([big], decoder: &strict) }
        // The same bytes detected: 2016.
        var auto = JT1078FrameDecoder()
        #expect(try decodeAll([big], decoder: &auto).count == 40 * Self.sample(.v2016).1.count)
        #expect(auto.version == .v2016)
    }

    @Test func garbageWithoutAnyMagicIsBounded() throws {
        var decoder = JT1078FrameDecoder(maxGarbageBytes: 10_000)
        var cumulation = ByteBuffer()
        for _ in 0..<9 {
            cumulation.writeBytes(Array(repeating: 0x41, count: 1000))
            #expect(try decoder.decode(buffer: &cumulation) == nil)
            #expect(cumulation.readableBytes <= 3)
        }
        cumulation.writeBytes(Array(repeating: 0x41, count: 2000))
        #expect(throws: JT1078Error.self) { _ = try decoder.decode(buffer: &cumulation) }
    }

    /// Detection through a ByteToMessageHandler in a channel pipeline, in odd-sized reads.
    @Test func detectionInAPipeline() throws {
        let (stream, expected) = Self.sample(.v2019)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(JT1078FrameDecoder()))
        var i = 0
        var size = 1
        while i < stream.readableBytes {
            let n = min(size, stream.readableBytes - i)
            try channel.writeInbound(stream.getSlice(at: i, length: n)!)
            i += n
            size = size % 97 + 13
        }
        var got: [JT1078Packet] = []
        while let p = try channel.readInbound(as: JT1078Packet.self) { got.append(p) }
        #expect(got == expected)
        #expect(try channel.finish().isClean)
    }
}

@Suite struct JT1078MagicScanTests {
    func find(_ bytes: [UInt8], from: Int, through last: Int) -> Int? {
        bytes.withUnsafeBytes { JT1078FrameDecoder.findMagic(in: $0, from: from, through: last) }
    }

    @Test func findsTheFirstMagicInRangeAmongPartialOnes() {
        let magic: [UInt8] = [0x30, 0x31, 0x63, 0x64]
        // 0x30s that start no magic (the scan must go on past them), then two magics.
        let bytes: [UInt8] = [0x30, 0x30, 0x31, 0x63, 0x00, 0x30, 0x31] + magic + [0x7F] + magic
        #expect(find(bytes, from: 0, through: bytes.count - 4) == 7)
        #expect(find(bytes, from: 8, through: bytes.count - 4) == 12)
        // A magic that starts past `last` is not found, even if its bytes are there.
        #expect(find(bytes, from: 0, through: 6) == nil)
        #expect(find(bytes, from: 0, through: 7) == 7)
        #expect(find(magic, from: 0, through: 0) == 0)
    }

    @Test func boundsOutsideTheBufferFindNothing() {
        let bytes: [UInt8] = [0x30, 0x31, 0x63, 0x64]
        #expect(find(bytes, from: 0, through: 1) == nil)  // last + 3 past the end
        #expect(find(bytes, from: 1, through: 0) == nil)
        #expect(find(bytes, from: -1, through: 0) == nil)
        #expect(find([], from: 0, through: 0) == nil)
    }
}
