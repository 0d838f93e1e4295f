import NIOCore
import RelayCore
import RelayFLV
import RelayRTMP
import Testing
import RelayTestSupport

/// Issue 16, RTMP side: limits checked from headers, oversize output dropped instead of trapped.
@Suite struct HardeningRTMPUnitTests {
    /// A type 0 header on chunk stream 3 announcing `length` bytes of `type`, and no payload.
    private func header(type: UInt8, length: Int) -> ByteBuffer {
        bufferOf([0x03, 0, 0, 0, UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
                  UInt8(truncatingIfNeeded: length), type, 0, 0, 0, 0])
    }

    @Test func commandCapIsCheckedWhenTheHeaderArrives() {
        var decoder = RTMPChunkDecoder(maxMessageSize: 8 << 20, maxCommandSize: 4096)
        for type: UInt8 in [20, 18, 17, 15, 19, 4, 1] {
            var input = header(type: type, length: 4097)  // the header alone: nothing buffered yet
            #expect(throws: RTMPError.commandTooLarge(typeID: type, length: 4097, limit: 4096)) {
                try drain(&decoder, &input)
            }
        }
        var atCap = header(type: 20, length: 4096)
        #expect((try? drain(&decoder, &atCap)) == [])  // waits for the payload
    }

    @Test func mediaKeepsTheMessageSizeLimit() throws {
        var decoder = RTMPChunkDecoder(maxMessageSize: 1 << 20, maxCommandSize: 4096)
        let video = message(csid: 6, type: .video, payload: patternBuffer(100_000))
        var input = encode([.setChunkSize(4096), video], chunkSize: 4096)
        #expect(try drain(&decoder, &input).last == video)
        var tooBig = header(type: 9, length: (1 << 20) + 1)
        #expect(throws: RTMPError.messageTooLarge(length: (1 << 20) + 1, limit: 1 << 20)) { try drain(&decoder, &tooBig) }
    }

    @Test func limitsCanBeRaisedBetweenMessages() throws {
        var decoder = RTMPChunkDecoder(maxMessageSize: 4096, maxCommandSize: 4096)
        let big = message(csid: 3, type: .commandAMF0, msid: 0, payload: patternBuffer(10_000))
        var early = encode([big], chunkSize: 128)
        #expect(throws: RTMPError.self) { try drain(&decoder, &early) }
        decoder = RTMPChunkDecoder(maxMessageSize: 4096, maxCommandSize: 4096)
        decoder.maxCommandSize = 64 << 10
        var later = encode([big], chunkSize: 128)
        #expect(try drain(&decoder, &later) == [big])
    }

    @Test func encoderRefusesWhatItCannotExpressAndWritesNothing() {
        var out = ByteBuffer()
        let huge = ByteBuffer(repeating: 0, count: RTMPChunkEncoder.maxPayloadLength)
        #expect(!RTMPChunkEncoder.write(chunkStreamID: 6, timestamp: 0, typeID: 9, messageStreamID: 1,
                                        prefix: bufferOf([1]), body: huge, chunkSize: 4096, into: &out))
        #expect(!RTMPChunkEncoder.write(chunkStreamID: 1, timestamp: 0, typeID: 9, messageStreamID: 1,
                                        prefix: ByteBuffer(), body: patternBuffer(10), chunkSize: 4096, into: &out))
        #expect(out.readableBytes == 0)
        // At the limit it still works, and a chunk size of 0 is taken as 1 instead of trapping.
        #expect(RTMPChunkEncoder.write(chunkStreamID: 6, timestamp: 0, typeID: 9, messageStreamID: 1,
                                       prefix: ByteBuffer(), body: huge, chunkSize: 1 << 20, into: &out))
        var tiny = ByteBuffer()
        #expect(RTMPChunkEncoder.write(message(payload: patternBuffer(3)), chunkSize: 0, into: &tiny))
        #expect(RTMPMessage.setChunkSize(0).payload.getInteger(at: 0, as: UInt32.self) == 1)
        #expect(RTMPMessage.setChunkSize(Int.max).payload.getInteger(at: 0, as: UInt32.self) == 0x7FFF_FFFF)
    }

    @Test func muxerDropsAnOversizeFrameAndKeepsGoing() {
        let muxer = RTMPMuxer(chunkSize: 4096, hevcMode: .enhanced)
        let stream = AVStream(index: 0, codec: .h264, timebase: 1000)
        var out = ByteBuffer()
        let oversize = AVPacket(streamIndex: 0, codec: .h264, dts: 0, pts: 0, isKeyFrame: true,
                                payload: ByteBuffer(repeating: 0, count: 0xFF_FFFF))
        muxer.mux(oversize, stream: stream, into: &out)  // 5 header bytes make it 24 bits + 5
        #expect(out.readableBytes == 0)
        #expect(muxer.drops.count == 1)
        let fine = AVPacket(streamIndex: 0, codec: .h264, dts: 40, pts: 40, isKeyFrame: false, payload: patternBuffer(100))
        muxer.mux(fine, stream: stream, into: &out)
        #expect(out.readableBytes > 100)
        #expect(muxer.drops.count == 1)
    }

    @Test func amfValueBudgetBoundsACommandBody() throws {
        // 60 KB of AMF0 null: under the byte cap, over the value cap.
        let nulls = message(csid: 3, type: .dataAMF0, msid: 0, payload: ByteBuffer(repeating: 0x05, count: 60_000))
        let start = NIODeadline.now()
        #expect(throws: RTMPError.amf0(.tooManyValues)) { try nulls.amf0Values() }
        #expect(NIODeadline.now() - start < .milliseconds(200))
        let ok = RTMPMessage.data(["onMetaData", .ecmaArray([AMF0Property("width", 1280)])])
        #expect(try ok.amf0Values().count == 2)
    }
}
