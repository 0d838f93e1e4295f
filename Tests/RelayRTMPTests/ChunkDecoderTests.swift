import NIOCore
import RelayFLV
import RelayRTMP
import Testing
import RelayTestSupport

@Suite struct ChunkDecoderTests {
    @Test func singleChunkMessageIsASliceOfTheInput() throws {
        var input = hexBuffer("04 000064 000003 08 01000000 aabbcc")
        let inputBase = input.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        var decoder = RTMPChunkDecoder()
        let decoded = try #require(try decoder.next(from: &input))
        #expect(decoded == message(csid: 4, timestamp: 100, type: .audio, msid: 1, payload: hexBuffer("aabbcc")))
        #expect(input.readableBytes == 0)
        let payloadBase = decoded.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(payloadBase == inputBase + 12, "single-chunk payload should share the input's storage")
        #expect(try decoder.next(from: &input) == nil)
    }

    @Test func roundTripsAcrossSizesChunkSizesAndChunkStreamIDs() throws {
        for chunkSize in [1, 128, 4096] {
            for csid: UInt32 in [2, 3, 63, 64, 65, 319, 320, 321, 65599] {
                for length in [0, 1, 127, 128, 129, 1000, 5000] where chunkSize > 1 || length < 1000 {
                    for timestamp: UInt32 in [0, 0xFF_FFFE, 0xFF_FFFF, 0xFFFF_FFFF] {
                        let original = message(csid: csid, timestamp: timestamp, type: .video, msid: 0x0102_0304,
                                               payload: patternBuffer(length, seed: UInt8(length & 0xFF)))
                        var decoder = RTMPChunkDecoder()
                        if chunkSize != 128 {
                            var setup = encode([.setChunkSize(chunkSize)], chunkSize: 128)
                            _ = try drain(&decoder, &setup)
                        }
                        var wire = encode([original, original], chunkSize: chunkSize)
                        let expectedSize = RTMPChunkEncoder.encodedSize(payloadLength: length, chunkStreamID: csid,
                                                                        timestamp: timestamp, chunkSize: chunkSize)
                        #expect(wire.readableBytes == 2 * expectedSize)
                        let decoded = try drain(&decoder, &wire)
                        #expect(decoded == [original, original], "chunkSize \(chunkSize) csid \(csid) length \(length) ts \(timestamp)")
                        #expect(wire.readableBytes == 0)
                    }
                }
            }
        }
    }

    /// Type 1/2/3 headers written by hand: each inherits from the previous header on its stream.
    @Test func headerTypesInheritAndApplyDeltas() throws {
        var input = hexBuffer("""
            04 0003e8 000003 08 01000000 aaaaaa
            44 000014 000002 09 bbbb
            84 00001e cccc
            c4 dddd
            c4 eeee
            """)
        var decoder = RTMPChunkDecoder()
        let decoded = try drain(&decoder, &input)
        #expect(decoded == [
            message(csid: 4, timestamp: 1000, type: .audio, msid: 1, payload: hexBuffer("aaaaaa")),
            message(csid: 4, timestamp: 1020, type: .video, msid: 1, payload: hexBuffer("bbbb")),
            message(csid: 4, timestamp: 1050, type: .video, msid: 1, payload: hexBuffer("cccc")),
            message(csid: 4, timestamp: 1080, type: .video, msid: 1, payload: hexBuffer("dddd")),
            message(csid: 4, timestamp: 1110, type: .video, msid: 1, payload: hexBuffer("eeee")),
        ])
    }

    /// Spec 5.3.1.2.4: a type 3 message right after a type 0 one uses the type 0 timestamp as delta.
    @Test func typeThreeAfterTypeZeroRepeatsTimestampAsDelta() throws {
        var input = hexBuffer("06 000028 000001 09 05000000 11  c6 22  c6 33")
        var decoder = RTMPChunkDecoder()
        let decoded = try drain(&decoder, &input)
        #expect(decoded.map(\.timestamp) == [40, 80, 120])
        #expect(decoded.map(\.messageStreamID) == [5, 5, 5])
    }

    @Test func typeOneHeaderMidMessageRestartsIt() throws {
        // A 4-byte message gets 2 bytes, then a type 1 header starts a fresh 1-byte message.
        var decoder = RTMPChunkDecoder()
        var setup = encode([.setChunkSize(2)], chunkSize: 128)
        _ = try drain(&decoder, &setup)
        var input = hexBuffer("04 000001 000004 08 01000000 aaaa  44 000001 000001 09 bb")
        let decoded = try drain(&decoder, &input)
        #expect(decoded == [message(csid: 4, timestamp: 2, type: .video, msid: 1, payload: hexBuffer("bb"))])
    }

    @Test func extendedTimestampRepeatedInContinuations() throws {
        let original = message(csid: 6, timestamp: 0x0123_4567, type: .video, payload: patternBuffer(300))
        var wire = encode([original], chunkSize: 128)
        // type 0 header + ext, then two type 3 continuations each with the ext timestamp repeated.
        #expect(wire.getBytes(at: 1, length: 3) == [0xFF, 0xFF, 0xFF])
        #expect(wire.getBytes(at: 12, length: 4) == [0x01, 0x23, 0x45, 0x67])
        #expect(wire.getBytes(at: 16 + 128, length: 5) == [0xC6, 0x01, 0x23, 0x45, 0x67])
        var decoder = RTMPChunkDecoder()
        #expect(try drain(&decoder, &wire) == [original])
    }

    @Test func extendedTimestampNotRepeatedInContinuations() throws {
        // What some encoders send: the type 3 continuations carry no extended timestamp.
        let payload = patternBuffer(300, seed: 3)
        var wire = ByteBuffer()
        wire.writeBytes(hexBytes("06 ffffff 00012c 09 01000000 01234567"))
        wire.writeImmutableBuffer(payload.getSlice(at: 0, length: 128)!)
        wire.writeInteger(UInt8(0xC6))
        wire.writeImmutableBuffer(payload.getSlice(at: 128, length: 128)!)
        wire.writeInteger(UInt8(0xC6))
        wire.writeImmutableBuffer(payload.getSlice(at: 256, length: 44)!)
        let expected = [message(csid: 6, timestamp: 0x0123_4567, type: .video, payload: payload)]
        var decoder = RTMPChunkDecoder()
        var copy = wire
        #expect(try drain(&decoder, &copy) == expected)
        #expect(try decodeInPieces(wire, cuts: Array(0..<wire.readableBytes)) == expected)
    }

    @Test func extendedTimestampOnDeltas() throws {
        // type 0 at 0x01000000, type 1 with extended delta 0x01000005, then a type 3 message
        // carrying its own extended delta (FFmpeg writes the actual delta there).
        var input = hexBuffer("""
            04 ffffff 000001 08 01000000 01000000 aa
            44 ffffff 000001 08 01000005 bb
            c4 01000006 cc
            """)
        var decoder = RTMPChunkDecoder()
        let decoded = try drain(&decoder, &input)
        #expect(decoded.map(\.timestamp) == [0x0100_0000, 0x0200_0005, 0x0300_000B])
        #expect(input.readableBytes == 0)
    }

    @Test func timestampDeltasWrapAround() throws {
        var input = hexBuffer("04 fffffe 000001 08 01000000 aa  84 ffffff 00000010 bb  84 ffffff fffffff0 cc")
        var decoder = RTMPChunkDecoder()
        // 0xFFFFFE + 0x10 + 0xFFFFFFF0 wraps modulo 2^32.
        #expect(try drain(&decoder, &input).map(\.timestamp) == [0xFF_FFFE, 0x100_000E, 0xFF_FFFE])
    }

    @Test func setChunkSizeMidStream() throws {
        let big = message(csid: 6, timestamp: 40, type: .video, payload: patternBuffer(10_000))
        var wire = encode([.setChunkSize(4096)], chunkSize: 128)
        RTMPChunkEncoder.write(big, chunkSize: 4096, into: &wire)
        var decoder = RTMPChunkDecoder()
        #expect(decoder.chunkSize == 128)
        let decoded = try drain(&decoder, &wire)
        #expect(decoded.count == 2)
        #expect(decoded.first?.type == .setChunkSize)
        #expect(decoded.last == big)
        #expect(decoder.chunkSize == 4096)
    }

    @Test func setChunkSizeLimits() throws {
        func apply(_ payload: String, max: Int = 16 << 20) throws(RTMPError) -> Int {
            var decoder = RTMPChunkDecoder(maxChunkSize: max)
            var input = hexBuffer("02 000000 000004 01 00000000 \(payload)")
            _ = try drain(&decoder, &input)
            return decoder.chunkSize
        }
        #expect(try apply("00001000") == 4096)
        #expect(try apply("80000080") == 128)  // reserved top bit ignored
        #expect(throws: RTMPError.badChunkSize(0)) { try apply("00000000") }
        #expect(throws: RTMPError.badChunkSize(0x1001)) { try apply("00001001", max: 4096) }
        #expect(throws: RTMPError.badChunkSize(0x7FFF_FFFF)) { try apply("7fffffff") }
        var decoder = RTMPChunkDecoder()
        var short = hexBuffer("02 000000 000002 01 00000000 0010")
        #expect(throws: RTMPError.truncatedPayload(typeID: 1)) { try drain(&decoder, &short) }
    }

    @Test func interleavedChunkStreams() throws {
        let video = message(csid: 6, timestamp: 33, type: .video, payload: patternBuffer(300, seed: 1))
        let audio1 = message(csid: 4, timestamp: 20, type: .audio, payload: patternBuffer(100, seed: 2))
        let audio2 = message(csid: 4, timestamp: 40, type: .audio, payload: patternBuffer(100, seed: 4))
        let v = encode([video], chunkSize: 128)  // chunks: 12+128, 1+128, 1+44
        let a1 = encode([audio1], chunkSize: 128)
        let a2 = encode([audio2], chunkSize: 128)
        var wire = ByteBuffer()
        wire.writeImmutableBuffer(v.getSlice(at: 0, length: 140)!)
        wire.writeImmutableBuffer(a1)
        wire.writeImmutableBuffer(v.getSlice(at: 140, length: 129)!)
        wire.writeImmutableBuffer(a2)
        wire.writeImmutableBuffer(v.getSlice(at: 269, length: 45)!)
        #expect(v.readableBytes == 314)
        var decoder = RTMPChunkDecoder()
        #expect(try drain(&decoder, &wire) == [audio1, audio2, video])
    }

    @Test func abortDropsThePartialMessage() throws {
        let dropped = encode([message(csid: 6, type: .video, payload: patternBuffer(300))], chunkSize: 128)
        let kept = message(csid: 6, timestamp: 80, type: .video, payload: patternBuffer(50, seed: 9))
        var wire = ByteBuffer()
        wire.writeImmutableBuffer(dropped.getSlice(at: 0, length: 140)!)  // first chunk only
        RTMPChunkEncoder.write(.abort(chunkStreamID: 6), chunkSize: 128, into: &wire)
        RTMPChunkEncoder.write(kept, chunkSize: 128, into: &wire)
        var decoder = RTMPChunkDecoder()
        let decoded = try drain(&decoder, &wire)
        #expect(decoded.map(\.type) == [.abort, .video])
        #expect(decoded.last == kept)

        // After an abort, a type 3 chunk starts a new message with the inherited header.
        var again = ByteBuffer()
        again.writeImmutableBuffer(dropped.getSlice(at: 0, length: 140)!)
        RTMPChunkEncoder.write(.abort(chunkStreamID: 6), chunkSize: 128, into: &again)
        again.writeImmutableBuffer(dropped.getSlice(at: 140, length: 129)!)  // c6 + 128 bytes
        var fresh = RTMPChunkDecoder()
        #expect(try drain(&fresh, &again).map(\.type) == [.abort])
        #expect(again.readableBytes == 0)
    }

    @Test func multiByteChunkStreamIDsByHand() throws {
        var input = hexBuffer("""
            00 00 000001 000001 08 00000000 aa
            00 ff 000001 000001 08 00000000 bb
            01 00 01 000001 000001 08 00000000 cc
            01 ff ff 000001 000001 08 00000000 dd
            41 ff ff 000001 000001 08 ee
            """)
        var decoder = RTMPChunkDecoder()
        let decoded = try drain(&decoder, &input)
        #expect(decoded.map(\.chunkStreamID) == [64, 319, 320, 65599, 65599])
        #expect(decoded.last?.timestamp == 2)
    }

    @Test func oversizedMessageIsRejected() {
        var decoder = RTMPChunkDecoder()
        var input = hexBuffer("06 000000 ffffff 09 01000000")
        #expect(throws: RTMPError.messageTooLarge(length: 0xFF_FFFF, limit: 8 << 20)) { try decoder.next(from: &input) }
        var small = RTMPChunkDecoder(maxMessageSize: 100)
        var type1 = hexBuffer("06 000000 000001 09 01000000 aa  46 000000 000065 09")
        #expect(throws: RTMPError.messageTooLarge(length: 101, limit: 100)) { try drain(&small, &type1) }
        #expect(RTMPError.messageTooLarge(length: 101, limit: 100).description.contains("101"))
    }

    @Test func headersWithoutPredecessorAreRejected() {
        for (bytes, csid, format): (String, UInt32, UInt8) in [("c5 aa", 5, 3), ("85 000001", 5, 2), ("45 000000 000001 08 aa", 5, 1)] {
            var decoder = RTMPChunkDecoder()
            var input = hexBuffer(bytes)
            #expect(throws: RTMPError.missingPreviousHeader(chunkStreamID: csid, format: format)) {
                try decoder.next(from: &input)
            }
        }
    }

    /// librtmp sends pings with a type 1 header on a fresh chunk stream 2.
    @Test func librtmpPingOnFreshControlStream() throws {
        var input = hexBuffer("42 000000 000006 04 0006 00000d0f")
        var decoder = RTMPChunkDecoder()
        let decoded = try #require(try decoder.next(from: &input))
        #expect(decoded.messageStreamID == 0)
        #expect(try UserControlEvent(payload: decoded.payload) == .pingRequest(timestamp: 0x0d0f))
    }

    @Test func chunkStreamLimit() throws {
        var decoder = RTMPChunkDecoder(maxChunkStreams: 3)
        var input = encode((3...5).map { message(csid: $0, payload: patternBuffer(1)) }, chunkSize: 128)
        #expect(try drain(&decoder, &input).count == 3)
        var more = encode([message(csid: 3, payload: patternBuffer(1)), message(csid: 9, payload: patternBuffer(1))], chunkSize: 128)
        #expect(throws: RTMPError.tooManyChunkStreams(limit: 3)) { try drain(&decoder, &more) }
    }

    @Test func pendingDataIsBounded() throws {
        // Each chunk stream starts a message claiming 1 MB and sends 1000 bytes of it; the
        // budget counts bytes that arrived (not announced), so the fifth stream exceeds 4 KB.
        var decoder = RTMPChunkDecoder(maxMessageSize: 1 << 20, maxChunkSize: 1 << 20, maxPendingBytes: 4096)
        var input = ByteBuffer()
        RTMPChunkEncoder.write(.setChunkSize(1000), chunkSize: 128, into: &input)
        for csid: UInt8 in 3...7 {
            input.writeBytes([csid, 0, 0, 0, 0x10, 0, 0, 9, 1, 0, 0, 0])
            input.writeImmutableBuffer(patternBuffer(1000))
        }
        #expect(throws: RTMPError.tooMuchPendingData(bytes: 5000, limit: 4096)) { try drain(&decoder, &input) }
    }

    @Test func zeroLengthMessage() throws {
        var input = hexBuffer("03 000005 000000 14 00000000  03 000006 000001 14 00000000 05")
        var decoder = RTMPChunkDecoder()
        let decoded = try drain(&decoder, &input)
        #expect(decoded.map(\.payload.readableBytes) == [0, 1])
    }

    @Test func oneByteAtATime() throws {
        let wire = capture()
        let expected = try decodeInPieces(wire, cuts: [])
        #expect(expected.map(\.typeID) == [20, 1, 8, 9, 2, 4, 8, 18])
        #expect(try decodeInPieces(wire, cuts: Array(1..<wire.readableBytes)) == expected)
    }

    @Test func everySplitPoint() throws {
        let wire = capture()
        let expected = try decodeInPieces(wire, cuts: [])
        for cut in 0...wire.readableBytes {
            #expect(try decodeInPieces(wire, cuts: [cut]) == expected, "split at \(cut)")
        }
    }

    /// Several messages exercising every path: chunk size change, multi-chunk, extended
    /// timestamps, interleaving and abort.
    private func capture() -> ByteBuffer {
        var wire = encode([
            .command(name: "connect", transactionID: 1, commandObject: ["app": "live"], arguments: []),
            .setChunkSize(60),
        ], chunkSize: 128)
        let video = message(csid: 6, timestamp: 0x0100_0000, type: .video, payload: patternBuffer(150, seed: 5))
        let audio = message(csid: 4, timestamp: 20, type: .audio, payload: patternBuffer(70, seed: 6))
        let v = encode([video], chunkSize: 60)  // 16+60, 5+60, 5+30
        let a = encode([audio], chunkSize: 60)  // 12+60, 1+10
        wire.writeImmutableBuffer(v.getSlice(at: 0, length: 76)!)
        wire.writeImmutableBuffer(a.getSlice(at: 0, length: 72)!)
        wire.writeImmutableBuffer(v.getSlice(at: 76, length: 65)!)
        wire.writeImmutableBuffer(a.getSlice(at: 72, length: 11)!)
        wire.writeImmutableBuffer(v.getSlice(at: 141, length: 35)!)
        wire.writeImmutableBuffer(a.getSlice(at: 0, length: 72)!)
        RTMPChunkEncoder.write(.abort(chunkStreamID: 4), chunkSize: 60, into: &wire)
        RTMPChunkEncoder.write(.userControl(.streamBegin(streamID: 1)), chunkSize: 60, into: &wire)
        RTMPChunkEncoder.write(message(csid: 4, timestamp: 60, payload: patternBuffer(0)), chunkSize: 60, into: &wire)
        RTMPChunkEncoder.write(message(csid: 400, timestamp: 61, type: .dataAMF0, payload: patternBuffer(200)),
                               chunkSize: 60, into: &wire)
        return wire
    }

    /// FFmpeg 5.1's `connect` as captured on the wire (after C2): 140 bytes at chunk size 128,
    /// so the last 12 bytes follow a type 3 header (the 0xc3 inside "1935").
    @Test func ffmpegConnectCapture() throws {
        let wire = hexBuffer("""
            0300000000008c1400000000020007636f6e6e656374003ff000000000000003
            00036170700200046c69766500047479706502000a6e6f6e7072697661746500
            08666c617368566572020024464d4c452f332e302028636f6d70617469626c65
            3b204c61766635392e32372e313030290005746355726c02001b72746d703a2f
            2f3132372e302e302e313a31c3393335352f6c697665000009
            """)
        for cuts in [[], Array(1..<wire.readableBytes)] {
            let decoded = try decodeInPieces(wire, cuts: cuts)
            #expect(decoded.count == 1)
            let connect = try RTMPCommand(message: try #require(decoded.first))
            #expect(connect.name == "connect")
            #expect(connect.transactionID == 1)
            #expect(connect.commandObject["app"]?.stringValue == "live")
            #expect(connect.commandObject["tcUrl"]?.stringValue == "rtmp://127.0.0.1:19355/live")
            #expect(connect.arguments.isEmpty)
        }
    }

    @Test func randomBytesFailCleanly() {
        var generator = SystemRandomNumberGenerator()
        var outcomes = (messages: 0, errors: 0)
        for round in 0..<500 {
            var input = ByteBuffer()
            // Start with a plausible header half the time so parsing gets past the first chunk.
            if round % 2 == 0 { input.writeBytes([0x03, 0, 0, 0, 0, 0, 0x40, 0x14, 0, 0, 0, 0]) }
            for _ in 0..<Int.random(in: 0..<2048, using: &generator) {
                input.writeInteger(UInt8.random(in: 0...255, using: &generator))
            }
            var decoder = RTMPChunkDecoder(maxMessageSize: 1 << 20)
            do {
                outcomes.messages += try drain(&decoder, &input).count
            } catch {
                outcomes.errors += 1
            }
        }
        #expect(outcomes.errors > 0)
    }
}
