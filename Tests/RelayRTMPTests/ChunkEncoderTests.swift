import NIOCore
import RelayRTMP
import Testing
import RelayTestSupport

@Suite struct ChunkEncoderTests {
    @Test func exactBytesOfASmallMessage() {
        let wire = encode([message(csid: 3, timestamp: 1, type: .commandAMF0, msid: 1, payload: hexBuffer("0a0b0c"))],
                          chunkSize: 128)
        #expect(wire == hexBuffer("03 000001 000003 14 01000000 0a0b0c"))
    }

    @Test func exactBytesOfContinuationsAndExtendedTimestamp() {
        let wire = encode([message(csid: 5, timestamp: 0xFF_FFFF, type: .video, msid: 0, payload: hexBuffer("0102030405"))],
                          chunkSize: 2)
        #expect(wire == hexBuffer("""
            05 ffffff 000005 09 00000000 00ffffff 0102
            c5 00ffffff 0304
            c5 00ffffff 05
            """))
        let plain = encode([message(csid: 5, timestamp: 7, type: .video, msid: 0, payload: hexBuffer("010203"))],
                           chunkSize: 2)
        #expect(plain == hexBuffer("05 000007 000003 09 00000000 0102  c5 03"))
    }

    @Test func multiByteChunkStreamIDForms() {
        func basicHeader(_ csid: UInt32) -> [UInt8] {
            let wire = encode([message(csid: csid, payload: hexBuffer("aa"))], chunkSize: 128)
            return wire.getBytes(at: 0, length: wire.readableBytes - 12)!
        }
        #expect(basicHeader(63) == [0x3F])
        #expect(basicHeader(64) == [0x00, 0x00])
        #expect(basicHeader(319) == [0x00, 0xFF])
        #expect(basicHeader(320) == [0x01, 0x00, 0x01])
        #expect(basicHeader(65599) == [0x01, 0xFF, 0xFF])
    }

    @Test func prefixAndBodyMatchConcatenatedPayload() throws {
        let payload = patternBuffer(700, seed: 11)
        for chunkSize in [1, 5, 128, 4096] {
            for split in [0, 1, 5, 127, 128, 129, 699, 700] {
                for timestamp: UInt32 in [40, 0x0200_0000] {
                    let prefix = payload.getSlice(at: 0, length: split)!
                    let body = payload.getSlice(at: split, length: 700 - split)!
                    var wire = ByteBuffer()
                    RTMPChunkEncoder.write(chunkStreamID: 6, timestamp: timestamp, typeID: 9, messageStreamID: 1,
                                           prefix: prefix, body: body, chunkSize: chunkSize, into: &wire)
                    let whole = encode([message(csid: 6, timestamp: timestamp, type: .video, msid: 1, payload: payload)],
                                       chunkSize: chunkSize)
                    #expect(wire == whole, "chunkSize \(chunkSize) split \(split)")
                    #expect(prefix.readableBytes == split && body.readableBytes == 700 - split)
                    #expect(wire.readableBytes == RTMPChunkEncoder.encodedSize(
                        payloadLength: 700, chunkStreamID: 6, timestamp: timestamp, chunkSize: chunkSize))
                }
            }
        }
    }

    @Test func appendsAfterExistingBytes() throws {
        var wire = ByteBuffer()
        wire.writeString("junk")
        wire.moveReaderIndex(forwardBy: 4)
        let original = message(csid: 7, timestamp: 5, type: .video, payload: patternBuffer(300))
        RTMPChunkEncoder.write(original, chunkSize: 100, into: &wire)
        var decoder = RTMPChunkDecoder()
        var setChunk = encode([.setChunkSize(100)], chunkSize: 128)
        _ = try drain(&decoder, &setChunk)
        #expect(try drain(&decoder, &wire) == [original])
    }
}
