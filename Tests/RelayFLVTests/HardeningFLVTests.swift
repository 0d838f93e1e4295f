import NIOCore
import RelayCore
import Testing
@testable import RelayFLV
import RelayTestSupport

/// Issue 16, FLV side: the NAL length rewrite is bounded and linear, oversize tags are dropped,
/// AMF0 decoding is iterative with value and depth caps.
@Suite struct HardeningFLVTests {
    /// avcC of FLVFixtures with lengthSizeMinusOne = 0 (1-byte NAL lengths).
    static let oneByteLengthRecord = "014d401ffce10017674d401fda014016ec0440000003004000000ca3c60ca801000468ef3c80"

    /// A video tag body (AVC NALU, key frame) holding `count` one-byte NAL units with 1-byte lengths.
    static func tinyNALFrame(count: Int) -> ByteBuffer {
        var body = ByteBuffer()
        body.reserveCapacity(5 + 2 * count)
        body.writeBytes([0x17, 0x01, 0, 0, 0])
        body.writeWithUnsafeMutableBytes(minimumWritableBytes: 2 * count) { raw in
            for i in 0..<count {
                raw[2 * i] = 0x01
                raw[2 * i + 1] = 0x65
            }
            return 2 * count
        }
        return body
    }

    @Test func rewriteThatOutgrowsAnFLVTagThrowsQuickly() throws {
        var demuxer = FLVDemuxer()
        var header = hexBuffer("1700000000")
        header.writeImmutableBuffer(hexBuffer(Self.oneByteLengthRecord))
        _ = try demuxer.video(body: header, timestamp: 0)
        // Small frames are rewritten to 4-byte lengths as before.
        let events = try demuxer.video(body: Self.tinyNALFrame(count: 3), timestamp: 40)
        guard case .packet(let packet)? = events.first else { Issue.record("no packet"); return }
        #expect(Array(packet.payload.readableBytesView) == [0, 0, 0, 1, 0x65, 0, 0, 0, 1, 0x65, 0, 0, 0, 1, 0x65])
        // ~8 MiB of one-byte NAL units would need ~21 MB as 4-byte lengths: refused, in linear time.
        let hostile = Self.tinyNALFrame(count: 4_194_301)
        let start = NIODeadline.now()
        #expect(throws: CodecError.self) { try demuxer.video(body: hostile, timestamp: 80) }
        #expect(NIODeadline.now() - start < .seconds(2))
        // Just under the limit passes.
        let edge = Self.tinyNALFrame(count: FLVVideo.maxFramePayload / 5)
        let ok = try demuxer.video(body: edge, timestamp: 120)
        guard case .packet(let big)? = ok.first else { Issue.record("no packet"); return }
        #expect(big.payload.readableBytes == FLVVideo.maxFramePayload / 5 * 5)
    }

    @Test func rewriteMatchesTheSimpleDefinition() throws {
        var generator = SystemRandomNumberGenerator()
        for lengthSize in [1, 2] {
            for _ in 0..<200 {
                var input = ByteBuffer()
                var expected = ByteBuffer()
                for _ in 0..<Int.random(in: 0..<20, using: &generator) {
                    let n = Int.random(in: 0..<(lengthSize == 1 ? 255 : 600), using: &generator)
                    if lengthSize == 1 { input.writeInteger(UInt8(n)) } else { input.writeInteger(UInt16(n)) }
                    let nal = (0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    input.writeBytes(nal)
                    if n > 0 {
                        expected.writeInteger(UInt32(n))
                        expected.writeBytes(nal)
                    }
                }
                #expect(try AnnexB.normalizedLengthPrefix(input, lengthSize: lengthSize) == expected)
            }
        }
        #expect(throws: CodecError.self) { try AnnexB.normalizedLengthPrefix(hexBuffer("05 0102"), lengthSize: 1) }
        #expect(throws: CodecError.self) { try AnnexB.normalizedLengthPrefix(hexBuffer("00"), lengthSize: 2) }
        #expect(throws: CodecError.self) {
            try AnnexB.normalizedLengthPrefix(hexBuffer("02 0102 02 0304"), lengthSize: 1, maxOutputBytes: 11)
        }
        #expect(try AnnexB.normalizedLengthPrefix(hexBuffer("02 0102 02 0304"), lengthSize: 1, maxOutputBytes: 12).readableBytes == 12)
    }

    @Test func flvMuxerDropsAnOversizeFrame() {
        let muxer = FLVMuxer(framing: .none, hevcMode: .enhanced)
        let stream = AVStream(index: 0, codec: .h264, timebase: 1000)
        var out = ByteBuffer()
        let oversize = AVPacket(streamIndex: 0, codec: .h264, dts: 0, pts: 0, isKeyFrame: true,
                                payload: ByteBuffer(repeating: 0, count: FLVTagHeader.maxDataSize - 4))
        muxer.mux(oversize, stream: stream, into: &out)
        #expect(out.readableBytes == 0)
        #expect(muxer.drops.count == 1)
        let fine = AVPacket(streamIndex: 0, codec: .h264, dts: 40, pts: 40, isKeyFrame: true,
                            payload: ByteBuffer(repeating: 0, count: FLVTagHeader.maxDataSize - 5))
        muxer.mux(fine, stream: stream, into: &out)
        #expect(out.readableBytes == FLVTagHeader.size + FLVTagHeader.maxDataSize + 4)
        #expect(out.getInteger(at: 1, as: UInt32.self).map { $0 >> 8 } == UInt32(FLVTagHeader.maxDataSize))

        var tag = ByteBuffer()
        #expect(!FLVTag.write(type: 9, timestamp: 0, body: ByteBuffer(repeating: 0, count: 1 << 24), into: &tag))
        #expect(tag.readableBytes == 0)
        var written = false
        written = FLVMuxer.writeTag(type: 9, timestamp: 0, into: &tag) { $0.writeRepeatingByte(0, count: 1 << 24) }
        #expect(!written)
        #expect(tag.readableBytes == 0)
    }

    @Test func amfDecodingIsIterativeAndBudgeted() throws {
        // 200 000 nested objects: no recursion, so no stack overflow; refused at maxDepth.
        var deep = ByteBuffer()
        for _ in 0..<200_000 { deep.writeBytes([0x03, 0x00, 0x01, 0x61]) }
        #expect(throws: AMF0Error.tooDeep) { try AMF0Value.decode(from: &deep) }
        // A value budget across all values of a body.
        var nulls = ByteBuffer(repeating: 0x05, count: 1000)
        #expect(throws: AMF0Error.tooManyValues) { try AMF0Value.decodeAll(from: &nulls, maxValues: 999) }
        #expect(nulls.readableBytes == 1000)
        #expect(try AMF0Value.decodeAll(from: &nulls, maxValues: 1000).count == 1000)
        // Nested containers count every value inside them.
        var array = ByteBuffer(bytes: [0x0A, 0, 0, 0, 3, 0x05, 0x05, 0x05])
        #expect(throws: AMF0Error.tooManyValues) { try AMF0Value.decode(from: &array, maxValues: 3) }
        #expect(try AMF0Value.decode(from: &array, maxValues: 4) == .strictArray([.null, .null, .null]))
        // Mixed nesting round-trips.
        let value: AMF0Value = .object([AMF0Property("a", [1, ["x": .ecmaArray([AMF0Property("y", .null)])], "s"]),
                                        AMF0Property("b", .object([]))])
        var encoded = ByteBuffer()
        value.encode(into: &encoded)
        #expect(try AMF0Value.decode(from: &encoded) == value)
        #expect(encoded.readableBytes == 0)
    }
}
