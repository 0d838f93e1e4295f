import NIOCore
import RelayCore
@testable import RelayGB28181
import RelayRTP
import RelayTestSupport
import Testing

/// RTP on a GB28181 TCP connection in each framing devices use (RFC 4571, bare RTP by mistake,
/// RTSP-style interleaved), cut by `GBTCPFrameDecoder` whatever the read boundaries.
@Suite struct GBTCPFrameDecoderTests {
    /// Feeds `chunks` as `ByteToMessageHandler` would (decode until nil after each read, then
    /// `decodeLast` at EOF); returns the non-empty frames and the framing decided.
    static func decode(_ chunks: [ByteBuffer]) throws -> (frames: [ByteBuffer], framing: GBTCPFraming?, held: Int) {
        var decoder = GBTCPFrameDecoder()
        var buffer = ByteBuffer()
        var frames: [ByteBuffer] = []
        var held = 0
        for var chunk in chunks {
            buffer.writeBuffer(&chunk)
            while let f = try decoder.decode(buffer: &buffer) { if f.readableBytes > 0 { frames.append(f) } }
            held = max(held, buffer.readableBytes)
            buffer.discardReadBytes()
        }
        while let f = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { if f.readableBytes > 0 { frames.append(f) } }
        return (frames, decoder.framing, held)
    }

    /// `bytes` cut at random places (some reads of one byte).
    static func split(_ bytes: ByteBuffer, seed: UInt64) -> [ByteBuffer] {
        var rng = SplitMix64(seed: seed)
        var rest = bytes
        var out: [ByteBuffer] = []
        while rest.readableBytes > 0 {
            let n = Int.random(in: 0..<4, using: &rng) == 0 ? 1 : Int.random(in: 1...3000, using: &rng)
            out.append(rest.readSlice(length: min(n, rest.readableBytes)) ?? ByteBuffer())
        }
        return out
    }

    static func packets(ssrc: UInt32 = 100_000_071, frames: Int = 30) -> [ByteBuffer] {
        var device = Device(ssrc: ssrc)
        return (0..<frames).flatMap { _ in device.next() }
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func rfc4571FramedPacketsComeOutWhole(seed: UInt64) throws {
        let packets = Self.packets()
        var stream = ByteBuffer(bytes: [0, 0])  // a keep-alive first
        for p in packets { RFC4571.frame(p, into: &stream) }
        let r = try Self.decode(Self.split(stream, seed: seed))
        #expect(r.framing == .rfc4571)
        #expect(r.frames == packets)
    }

    /// Bare RTP back to back: each packet ends at the next header of its SSRC with the next
    /// sequence number; the last one at EOF.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func bareRTPIsCutAtTheNextHeader(seed: UInt64) throws {
        let packets = Self.packets()
        var stream = ByteBuffer()
        for p in packets { stream.writeImmutableBuffer(p) }
        let r = try Self.decode(Self.split(stream, seed: seed))
        #expect(r.framing == .bare)
        #expect(r.frames.count == packets.count)
        #expect(r.frames == packets)
        #expect(r.held <= 65_535 + 3000, "held \(r.held) bytes")
    }

    /// A device that skipped a few packets (its send buffer was full): still cut right.
    @Test func bareRTPWithSkippedSequenceNumbers() throws {
        let packets = Self.packets().enumerated().filter { $0.offset % 7 != 3 }.map(\.element)
        var stream = ByteBuffer()
        for p in packets { stream.writeImmutableBuffer(p) }
        let r = try Self.decode(Self.split(stream, seed: 11))
        #expect(r.framing == .bare)
        #expect(r.frames == packets)
    }

    @Test func interleavedFramesDropRTCPChannels() throws {
        let packets = Self.packets(frames: 5)
        var stream = ByteBuffer()
        for p in packets {
            stream.writeBytes([0x24, 0x00])
            stream.writeInteger(UInt16(p.readableBytes))
            stream.writeImmutableBuffer(p)
            stream.writeBytes([0x24, 0x01, 0x00, 0x08, 0x80, 0xC8, 0x00, 0x01, 0, 0, 0, 1])  // RTCP on channel 1
        }
        let r = try Self.decode(Self.split(stream, seed: 9))
        #expect(r.framing == .interleaved)
        #expect(r.frames == packets)
    }

    /// A first RFC 4571 frame of 40000 bytes: its prefix (0x9C40) also reads as a bare RTP
    /// header; the frame after it decides.
    @Test func aLargeFirstFrameIsConfirmedByTheNextPrefix() throws {
        var rtp = RTPPacketizer(ssrc: 100_000_072, maxPayload: 39_988)
        let big = rtp.packetize(ByteBuffer(bytes: [UInt8](repeating: 7, count: 39_988)), timestamp: 0)
        var small = RTPPacketizer(ssrc: 100_000_072, sequence: rtp.sequence)
        let packets = big + small.packetize(ByteBuffer(bytes: [1, 2, 3]), timestamp: 3600)
        #expect(big[0].readableBytes == 40_000 && big[0].getInteger(at: 0, as: UInt16.self)! >> 14 == 2)
        var stream = ByteBuffer()
        for p in packets { RFC4571.frame(p, into: &stream) }
        let r = try Self.decode(Self.split(stream, seed: 3))
        #expect(r.framing == .rfc4571)
        #expect(r.frames == packets)
    }

    /// A first RFC 4571 frame of 0x2480 bytes begins with '$': its RTP header after the prefix
    /// tells it from an interleaved frame.
    @Test func aFirstFrameLengthThatLooksLikeADollarIsStillRFC4571() throws {
        var rtp = RTPPacketizer(ssrc: 100_000_075, sequence: 0x8000, maxPayload: 0x2480 - 12)
        let packets = rtp.packetize(ByteBuffer(bytes: [UInt8](repeating: 9, count: 0x2480 - 12)), timestamp: 0)
            + rtp.packetize(ByteBuffer(bytes: [1, 2, 3]), timestamp: 3600)
        var stream = ByteBuffer()
        for p in packets { RFC4571.frame(p, into: &stream) }
        #expect(stream.getBytes(at: 0, length: 1) == [0x24])
        let r = try Self.decode(Self.split(stream, seed: 4))
        #expect(r.framing == .rfc4571)
        #expect(r.frames == packets)
    }

    /// Bare RTP whose next header never comes: an error after 64 KiB, not an ever-growing buffer.
    @Test func aBarePacketWithoutAnEndIsAnError() throws {
        var stream = Self.packets(frames: 1)[0]
        stream.writeBytes([UInt8](repeating: 0x80, count: 70_000))
        #expect(throws: GBTCPFramingError.self) { _ = try Self.decode(Self.split(stream, seed: 1)) }
    }

    /// Random bytes, some starting like RTP: whatever comes out is bounded, nothing traps.
    @Test func hostileInputNeverTrapsAndStaysBounded() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<300 {
            var bytes = (0..<Int.random(in: 0...20_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            switch round % 4 {
            case 0 where bytes.count > 12: bytes[0] = 0x80
            case 1 where bytes.count > 6: bytes[0] = 0x24; bytes[4] = 0x80
            case 2 where bytes.count > 3: bytes[0] = 0x00; bytes[1] = 0x20; bytes[2] = 0x80
            default: break
            }
            guard let r = try? Self.decode(Self.split(ByteBuffer(bytes: bytes), seed: UInt64(round))) else { continue }
            #expect(r.frames.allSatisfy { $0.readableBytes <= 65_535 })
            #expect(r.frames.reduce(0) { $0 + $1.readableBytes } <= bytes.count)
        }
    }

    // MARK: through the server's pipeline

    func connection(_ gb: GB28181Service, loop: ManualLoop, port: Int) throws -> ManualChannel {
        let channel = ManualChannel(loop: loop, remote: try SocketAddress(ipAddress: "192.0.2.7", port: port))
        try gb.addTCPHandlers(channel, owner: nil, mode: .tcpPassive)
        channel.activate()
        return channel
    }

    /// A device that forgets the length prefix publishes all the same (one line says so); one
    /// whose bare packet never ends is closed with a clear line.
    @Test func aDeviceWithoutLengthPrefixesPublishes() async throws {
        let h = try await Harness.start()
        let gb = h.service
        _ = try await gb.open(streamID: "gb/bare", ssrc: 100_000_073, mode: .tcpPassive)
        let loop = ManualLoop()
        let channel = try connection(gb, loop: loop, port: 9100)
        var device = Device(ssrc: 100_000_073)
        for _ in 0..<10 {
            var bare = ByteBuffer()
            for p in device.next() { bare.writeImmutableBuffer(p) }
            channel.receive(bare)
        }
        #expect(await loop.run(until: { h.context.sourceIsReady("gb/bare") }, step: .milliseconds(40)))
        #expect(h.lines.count("without RFC 4571 length prefixes") == 1)
        #expect(channel.isOpen)
        channel.close(promise: nil)
        _ = await loop.run(until: { gb.list().isEmpty })

        _ = try await gb.open(streamID: "gb/endless", ssrc: 100_000_074, mode: .tcpPassive)
        let endless = try connection(gb, loop: loop, port: 9101)
        var d = Device(ssrc: 100_000_074)
        var bytes = d.next()[0]
        bytes.writeBytes([UInt8](repeating: 0x55, count: 70_000))
        endless.receive(bytes)
        #expect(await loop.run(until: { !endless.isOpen }))
        #expect(h.lines.contains("no next RTP header"))
        await gb.stop()
    }
}
