import NIOCore
import RelayCore
import Testing
@testable import RelayFLV
import RelayTestSupport

private let buf = hexBuffer

/// Feeds `input` to a fresh reader in the given chunks, as a socket would, collecting tags.
private func readAll(_ input: ByteBuffer, chunks: [Int], reader: FLVTagReader = FLVTagReader()) throws -> [FLVTag] {
    var reader = reader
    var pending = ByteBuffer()
    var tags: [FLVTag] = []
    var rest = input
    for size in chunks {
        var piece = rest.readSlice(length: min(size, rest.readableBytes))!
        pending.writeBuffer(&piece)
        while let tag = try reader.next(from: &pending) { tags.append(tag) }
    }
    #expect(rest.readableBytes == 0)
    return tags
}

@Suite struct FLVTagTests {
    static let sampleTags: [FLVTag] = [
        FLVTag(type: FLVTagType.script, timestamp: 0, body: buf("02000a6f6e4d657461446174610500")),
        FLVTag(type: FLVTagType.video, timestamp: 0, body: buf("17000000" + "00" + MediaFixtures.avcRecord)),
        FLVTag(type: FLVTagType.audio, timestamp: 23, body: buf("af001210")),
        FLVTag(type: FLVTagType.audio, timestamp: 0x00FF_FFFF, body: ByteBuffer()),
        FLVTag(type: FLVTagType.video, timestamp: 0x1234_5678, body: ByteBuffer(bytes: (0..<300).map { UInt8($0 & 0xFF) })),
    ]

    static func sampleStream() -> ByteBuffer {
        var out = ByteBuffer()
        FLVFileHeader.write(hasAudio: true, hasVideo: true, into: &out)
        for tag in sampleTags { FLVTag.write(type: tag.type, timestamp: tag.timestamp, body: tag.body, into: &out) }
        return out
    }

    @Test func fileHeaderBytes() {
        var out = ByteBuffer()
        FLVFileHeader.write(hasAudio: true, hasVideo: true, into: &out)
        #expect(out == buf("464c5601 05 00000009 00000000"))
        out.clear()
        FLVFileHeader.write(hasAudio: false, hasVideo: true, into: &out)
        #expect(out == buf("464c5601 01 00000009 00000000"))
        out.clear()
        FLVFileHeader.write(hasAudio: true, hasVideo: false, into: &out)
        #expect(out == buf("464c5601 04 00000009 00000000"))
    }

    @Test func tagHeaderBytesWithExtendedTimestamp() {
        var out = ByteBuffer()
        FLVTagHeader.write(type: FLVTagType.video, dataSize: 0x01_0203, timestamp: 0x1234_5678, into: &out)
        #expect(out == buf("09 010203 345678 12 000000"))
        out.clear()
        FLVTag.write(type: FLVTagType.audio, timestamp: 40, body: buf("af01aa"), into: &out)
        #expect(out == buf("08 000003 000028 00 000000 af01aa 0000000e"))
    }

    @Test func roundTripWholeAndByteByByte() throws {
        let stream = Self.sampleStream()
        #expect(try readAll(stream, chunks: [stream.readableBytes]) == Self.sampleTags)
        #expect(try readAll(stream, chunks: Array(repeating: 1, count: stream.readableBytes)) == Self.sampleTags)
    }

    @Test func roundTripSplitAtEveryBoundary() throws {
        let stream = Self.sampleStream()
        for split in 0...stream.readableBytes {
            let tags = try readAll(stream, chunks: [split, stream.readableBytes - split])
            #expect(tags == Self.sampleTags, "split at \(split)")
        }
    }

    @Test func bodiesAreSlicesOfTheInput() throws {
        var input = Self.sampleStream()
        var reader = FLVTagReader()
        let first = try #require(try reader.next(from: &input))
        #expect(first.type == FLVTagType.script)
        // Returned as soon as the body is complete; the PreviousTagSize is skipped on the next call.
        let second = try #require(try reader.next(from: &input))
        #expect(second.body.readableBytes == 5 + MediaFixtures.avcRecord.count / 2)
    }

    @Test func readsFFmpegFLVHead() throws {
        let head = buf(FLVFixtures.ffmpegFLVHead)
        let tags = try readAll(head, chunks: [7, 100, 3, 1000])
        #expect(tags.map(\.type) == [FLVTagType.script, FLVTagType.video, FLVTagType.audio])
        #expect(tags.map(\.body.readableBytes) == [293, 43, 7])
        #expect(tags[1].body == buf("17000000" + "00" + MediaFixtures.avcRecord))
        #expect(tags[2].body == buf("af00121056e500"))
    }

    @Test func longerDataOffsetAndHeaderlessStreams() throws {
        // DataOffset 12: three extra header bytes before PreviousTagSize0.
        var input = buf("464c5601 05 0000000c aabbcc 00000000")
        FLVTag.write(type: FLVTagType.audio, timestamp: 7, body: buf("7201"), into: &input)
        #expect(try readAll(input, chunks: [1, 1, 1, 1, 1, 30]).map(\.timestamp) == [7])

        var bare = ByteBuffer()
        FLVTag.write(type: FLVTagType.video, timestamp: 9, body: buf("27"), into: &bare)
        let tags = try readAll(bare, chunks: [bare.readableBytes], reader: FLVTagReader(expectFileHeader: false))
        #expect(tags == [FLVTag(type: FLVTagType.video, timestamp: 9, body: buf("27"))])
    }

    @Test func waitsForMoreBytes() throws {
        var reader = FLVTagReader()
        var input = buf("464c56")
        #expect(try reader.next(from: &input) == nil)
        #expect(input.readableBytes == 3)  // nothing consumed until the header is whole
        input.writeBytes(hexBytes("01050000000900000000 0900000a"))
        #expect(try reader.next(from: &input) == nil)
    }

    @Test func rejectsBadFileHeaders() {
        var reader = FLVTagReader()
        var notFLV = buf("474554202f6c6976652f74")  // "GET /live/t"
        #expect(throws: FLVError.self) { try reader.next(from: &notFLV) }
        var early = buf("4658")  // "FX": wrong before the header is complete
        var r2 = FLVTagReader()
        #expect(throws: FLVError.self) { try r2.next(from: &early) }
        var badOffset = buf("464c5601 05 00000005 00000000")
        var r3 = FLVTagReader()
        #expect(throws: FLVError.badHeader("DataOffset 5")) { try r3.next(from: &badOffset) }
        var hugeOffset = buf("464c5601 05 7fffffff 00000000")
        var r4 = FLVTagReader()
        #expect(throws: FLVError.self) { try r4.next(from: &hugeOffset) }
    }

    @Test func rejectsOversizedAndBadTags() {
        var reader = FLVTagReader(maxTagSize: 100)
        var big = buf("464c5601 05 00000009 00000000 09 000065 00000000 000000")  // 101 bytes declared
        #expect(throws: FLVError.tagTooLarge(size: 101, max: 100)) { try reader.next(from: &big) }

        #expect(FLVTagReader().maxTagSize == 16 << 20)

        var r2 = FLVTagReader(expectFileHeader: false)
        var badType = buf("07 000001 00000000 000000 00 00000000")
        #expect(throws: FLVError.invalid("tag type 7")) { try r2.next(from: &badType) }

        var r3 = FLVTagReader(expectFileHeader: false)
        var encrypted = buf("29 000001 00000000 000000 00 00000000")
        #expect(throws: FLVError.self) { try r3.next(from: &encrypted) }
    }

    @Test func randomBytesNeverCrash() {
        var seed: UInt64 = 7
        for round in 0..<300 {
            var bytes: [UInt8] = round % 2 == 0 ? [0x46, 0x4C, 0x56, 0x01, 0x05, 0, 0, 0, 9, 0, 0, 0, 0] : []
            for _ in 0..<64 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            var reader = FLVTagReader(maxTagSize: 1 << 20, expectFileHeader: round % 2 == 0)
            var input = ByteBuffer(bytes: bytes)
            while let tag = try? reader.next(from: &input) {
                _ = try? FLVVideo.parse(tag.body)
                _ = try? FLVAudio.parse(tag.body)
            }
        }
    }
}
