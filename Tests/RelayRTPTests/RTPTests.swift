import NIOCore
import NIOTestUtils
import RelayRTP
import Testing

struct RTPPacketTests {
    @Test func parsesHeaderCSRCsExtensionAndPadding() throws {
        var b = ByteBuffer()
        b.writeBytes([0xB2, 0xE0])  // V=2, P=1, X=1, CC=2; M=1, PT=96
        b.writeInteger(UInt16(0xFFFE))
        b.writeInteger(UInt32(0xDEAD_BEEF))
        b.writeInteger(UInt32(100_000_001))
        b.writeInteger(UInt32(1))  // CSRC 1
        b.writeInteger(UInt32(2))  // CSRC 2
        b.writeInteger(UInt16(0xABAC))  // extension profile
        b.writeInteger(UInt16(1))  // one word
        b.writeInteger(UInt32(0x1234_5678))
        b.writeBytes([1, 2, 3, 4, 5])  // payload
        b.writeBytes([0, 0, 3])  // padding, count 3
        let p = try RTPPacket(parsing: b)
        #expect(p.marker)
        #expect(p.payloadType == 96)
        #expect(p.sequence == 0xFFFE)
        #expect(p.timestamp == 0xDEAD_BEEF)
        #expect(p.ssrc == 100_000_001)
        #expect(p.csrcCount == 2)
        #expect(p.extensionProfile == 0xABAC)
        #expect(Array(p.payload.readableBytesView) == [1, 2, 3, 4, 5])
    }

    @Test func rejectsMalformedPackets() {
        #expect(throws: RTPError.tooShort(5)) { try RTPPacket(parsing: ByteBuffer(bytes: [0x80, 0, 0, 0, 0])) }
        #expect(throws: RTPError.badVersion(1)) { try RTPPacket(parsing: ByteBuffer(bytes: [0x40] + [UInt8](repeating: 0, count: 20))) }
        // Four CSRCs announced, none present.
        #expect(throws: RTPError.csrcOverrun(count: 4, length: 14)) {
            try RTPPacket(parsing: ByteBuffer(bytes: [0x84] + [UInt8](repeating: 0, count: 13)))
        }
        // Extension of 100 words in a short packet.
        #expect(throws: RTPError.extensionOverrun(words: 100, length: 20)) {
            try RTPPacket(parsing: ByteBuffer(bytes: [0x90] + [UInt8](repeating: 0, count: 11) + [0, 0, 0, 100, 1, 2, 3, 4]))
        }
        // Padding count larger than the payload.
        #expect(throws: RTPError.badPadding(count: 9, available: 2)) {
            try RTPPacket(parsing: ByteBuffer(bytes: [0xA0] + [UInt8](repeating: 0, count: 11) + [7, 9]))
        }
        #expect(throws: RTPError.badPadding(count: 0, available: 2)) {
            try RTPPacket(parsing: ByteBuffer(bytes: [0xA0] + [UInt8](repeating: 0, count: 11) + [7, 0]))
        }
    }

    @Test func packetizerCutsPayloadAndMarksTheLastPacket() throws {
        var rtp = RTPPacketizer(ssrc: 42, payloadType: 96, sequence: 65534, maxPayload: 1400)
        let payload = ByteBuffer(bytes: (0..<3000).map { UInt8(truncatingIfNeeded: $0) })
        let packets = rtp.packetize(payload, timestamp: 9000)
        #expect(packets.count == 3)
        let parsed = try packets.map { try RTPPacket(parsing: $0) }
        #expect(parsed.map(\.sequence) == [65534, 65535, 0])
        #expect(parsed.map(\.marker) == [false, false, true])
        #expect(parsed.map(\.payload.readableBytes) == [1400, 1400, 200])
        #expect(parsed.allSatisfy { $0.ssrc == 42 && $0.timestamp == 9000 && $0.payloadType == 96 })
        var joined = ByteBuffer()
        for p in parsed { joined.writeImmutableBuffer(p.payload) }
        #expect(joined == payload)
    }
}

struct RFC4571Tests {
    @Test func framesSplitAtEveryByteBoundary() throws {
        func frame(_ bytes: [UInt8]) -> ByteBuffer {
            var b = ByteBuffer()
            RFC4571.frame(ByteBuffer(bytes: bytes), into: &b)
            return b
        }
        let big = (0..<700).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: [
            (frame([0x80, 0x60, 1, 2]), [ByteBuffer(bytes: [0x80, 0x60, 1, 2])]),
            (frame([]), [ByteBuffer()]),  // keep-alive
            (frame(big), [ByteBuffer(bytes: big)]),
            (frame([9]), [ByteBuffer(bytes: [9])]),
        ], decoderFactory: { RFC4571FrameDecoder() })
    }

    @Test func waitsForTheWholeFrame() throws {
        var d = RFC4571FrameDecoder()
        var b = ByteBuffer(bytes: [0xFF, 0xFF] + [UInt8](repeating: 7, count: 65534))
        #expect(try d.decode(buffer: &b) == nil)
        b.writeInteger(UInt8(7))
        let frame = try #require(try d.decode(buffer: &b))
        #expect(frame.readableBytes == 65535)
        #expect(b.readableBytes == 0)
    }
}

struct ReorderBufferTests {
    /// Pushes each number as its own sequence number; returns what came out ("5" for a packet,
    /// "-2" for two lost, "-0" for a resynchronization).
    static func run(_ window: Int, _ seqs: [UInt16]) -> (out: [String], buffer: RTPReorderBuffer<UInt16>) {
        var buffer = RTPReorderBuffer<UInt16>(window: window)
        var out: [String] = []
        for s in seqs {
            buffer.push(s, sequence: s) { o in
                switch o {
                case .packet(let p): out.append("\(p)")
                case .loss(let n): out.append("-\(n)")
                }
            }
        }
        return (out, buffer)
    }

    static func strings(_ values: [Int]) -> [String] { values.map { "\($0)" } }

    @Test func halfTheTrafficReorderedWithinEightComesOutInOrder() {
        // The sender's impairment: each packet held back with 50 % chance by 1...8 packets.
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        var arrivals: [UInt16] = []
        var held: [(release: Int, seq: UInt16)] = []
        for i in 0..<3000 {
            let seq = UInt16(truncatingIfNeeded: 60000 + i)  // crosses the 16-bit wrap
            if next() % 2 == 0 {
                held.append((i + Int(next() % 8) + 1, seq))
            } else {
                arrivals.append(seq)
            }
            let due = held.filter { $0.release <= i }.sorted { $0.release < $1.release }
            held.removeAll { $0.release <= i }
            arrivals += due.map(\.seq)
        }
        arrivals += held.sorted { $0.release < $1.release }.map(\.seq)
        #expect(arrivals != arrivals.sorted())
        let (out, buffer) = Self.run(16, arrivals)
        #expect(out == (0..<3000).map { "\(UInt16(truncatingIfNeeded: 60000 + $0))" })
        #expect(buffer.stats.lost == 0)
        #expect(buffer.stats.reordered > 500)
    }

    @Test func duplicatesAreDroppedAndGapsReportedAfterTheWindow() {
        // 3 is lost; 5 and 1 are duplicated.
        let (out, buffer) = Self.run(4, [0, 1, 2, 1, 4, 5, 5, 6, 7, 8, 9])
        #expect(out == ["0", "1", "2", "-1", "4", "5", "6", "7", "8", "9"])
        #expect(buffer.stats.lost == 1)
        #expect(buffer.stats.duplicates + buffer.stats.late == 2)
    }

    @Test func aLatePacketAfterItsGapWasGivenUpIsDropped() {
        let (out, buffer) = Self.run(2, [10, 12, 13, 11, 14])
        #expect(out == ["10", "-1", "12", "13", "14"])
        #expect(buffer.stats.late == 1)
    }

    @Test func sequenceNumbersWrap() {
        let (out, buffer) = Self.run(8, [65533, 65535, 65534, 1, 0, 2, 3])
        #expect(out == Self.strings([65533, 65534, 65535, 0, 1, 2, 3]))
        #expect(buffer.stats.lost == 0)
    }

    @Test func aRestartedSenderIsFollowed() {
        // Far jump forward: resynchronized at once.
        let (forward, _) = Self.run(8, [100, 101, 30000, 30001])
        #expect(forward == ["100", "101", "-0", "30000", "30001"])
        // Far behind: two in a row means a restart, and the first of them goes out too (after a
        // camera reboot it begins the first key frame).
        let (backward, b) = Self.run(8, [5000, 5001, 10, 11, 12])
        #expect(backward == ["5000", "5001", "-0", "10", "11", "12"])
        #expect(b.stats.resyncs == 1 && b.stats.late == 0)
        // One stray far behind is dropped as late.
        let (stray, c) = Self.run(8, [5000, 5001, 10, 5002, 5003])
        #expect(stray == ["5000", "5001", "5002", "5003"])
        #expect(c.stats.resyncs == 0 && c.stats.late == 1)
    }

    @Test func windowZeroDeliversAtOnceAndReportsEveryGap() {
        let (out, _) = Self.run(0, [1, 2, 4, 5, 9])
        #expect(out == ["1", "2", "-1", "4", "5", "-3", "9"])
    }

    @Test func flushDeliversWhatIsHeld() {
        var buffer = RTPReorderBuffer<UInt16>(window: 8)
        var out: [String] = []
        for s: UInt16 in [1, 3, 4, 6] {
            buffer.push(s, sequence: s) { o in
                if case .packet(let p) = o { out.append("\(p)") }
            }
        }
        #expect(out == ["1"])
        #expect(buffer.heldCount == 3)
        buffer.flush { o in
            switch o {
            case .packet(let p): out.append("\(p)")
            case .loss(let n): out.append("-\(n)")
            }
        }
        #expect(out == ["1", "-1", "3", "4", "-1", "6"])
        #expect(buffer.heldCount == 0)
    }
}

struct TimestampUnwrapperTests {
    @Test func thirtyTwoBitRTPTimestampsWrapForward() {
        var u = TimestampUnwrapper(bits: 32)
        #expect(u.unwrap(0xFFFF_FF00) == 0xFFFF_FF00)
        #expect(u.unwrap(0xFFFF_FFF0) == 0xFFFF_FFF0)
        #expect(u.unwrap(0x0000_0010) == 0x1_0000_0010)
        #expect(u.unwrap(0x0000_1000) == 0x1_0000_1000)
        // A small step back (B-frames) across the wrap stays in the new epoch's neighbourhood.
        #expect(u.unwrap(0xFFFF_FFF8) == 0xFFFF_FFF8)
        #expect(u.unwrap(0x0000_2000) == 0x1_0000_2000)
    }

    @Test func thirtyThreeBitPTSWraps() {
        var u = TimestampUnwrapper(bits: 33)
        let top: UInt64 = 1 << 33
        var last = u.unwrap(top - 7200)
        for i in 1...10 {
            let raw = (top - 7200 + UInt64(i) * 3600) % top
            let v = u.unwrap(raw)
            #expect(v - last == 3600)
            last = v
        }
        #expect(last == Int64(top) + 7200 * 4)
    }
}
