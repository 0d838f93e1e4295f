import NIOCore
import RelayCore
import Testing
@testable import RelayFLV
import RelayTestSupport

private let buf = hexBuffer

private func streams(_ events: [MediaEvent]) -> [AVStream] {
    events.compactMap { if case .stream(let s) = $0 { s } else { nil } }
}

private func packets(_ events: [MediaEvent]) -> [AVPacket] {
    events.compactMap { if case .packet(let p) = $0 { p } else { nil } }
}

@Suite struct FLVDemuxerTests {
    @Test func h264SequenceHeaderThenFrames() throws {
        var d = FLVDemuxer()
        #expect(try d.video(body: buf("1701000000 0000000265aa"), timestamp: 0).isEmpty)  // before any header: dropped

        let events = try d.video(body: buf("1700000000" + MediaFixtures.avcRecord), timestamp: 0)
        let s = try #require(streams(events).first)
        #expect(events.count == 1)
        #expect(s.index == 0 && s.codec == .h264 && s.timebase == 1000)
        #expect(s.extradata == FLVFixtures.avcRecordBuffer())
        #expect(s.video?.width == 1280 && s.video?.height == 720 && s.video?.profile == 77 && s.video?.level == 31)
        #expect(d.videoStream == s)

        let key = try #require(packets(try d.video(body: buf("1701000050 0000000265aa"), timestamp: 1000)).first)
        #expect(key.streamIndex == 0 && key.codec == .h264 && key.isKeyFrame)
        #expect(key.dts == 1000 && key.pts == 1080)
        #expect(key.payload == buf("0000000265aa"))

        let inter = try #require(packets(try d.video(body: buf("2701ffffd8 0000000141"), timestamp: 1040)).first)
        #expect(!inter.isKeyFrame && inter.dts == 1040 && inter.pts == 1000)  // negative CTS

        #expect(try d.video(body: buf("1702000000"), timestamp: 2000).isEmpty)
        #expect(try d.video(body: buf("57 00"), timestamp: 2000).isEmpty)
    }

    @Test func repeatedHeaderSuppressedChangedHeaderReemitted() throws {
        var d = FLVDemuxer()
        let seq = buf("1700000000" + MediaFixtures.avcRecord)
        #expect(streams(try d.video(body: seq, timestamp: 0)).count == 1)
        #expect(try d.video(body: seq, timestamp: 2000).isEmpty)

        let high = try AVCDecoderConfigurationRecord(sps: [buf(MediaFixtures.h264High1080SPS)], pps: [buf(MediaFixtures.h264High1080PPS)])
        var changed = ByteBuffer()
        FLVVideo.writeSequenceHeader(codec: .h264, record: high.encoded(), hevcMode: .legacy, into: &changed)
        let s = try #require(streams(try d.video(body: changed, timestamp: 4000)).first)
        #expect(s.video?.width == 1920 && s.video?.height == 1080 && s.video?.profile == 100)
        #expect(try d.video(body: changed, timestamp: 6000).isEmpty)
        #expect(streams(try d.video(body: seq, timestamp: 8000)).first?.video?.width == 1280)  // back again
    }

    @Test func hevcEnhancedAndLegacy() throws {
        var d = FLVDemuxer()
        _ = try d.video(body: buf("1700000000" + MediaFixtures.avcRecord), timestamp: 0)
        let s = try #require(streams(try d.video(body: buf("90 68766331" + MediaFixtures.hvcRecord), timestamp: 100)).first)
        #expect(s.codec == .h265 && s.video?.width == 1280 && s.video?.height == 720 && s.video?.level == 93)
        #expect(s.video?.vps.count == 1)
        // Same record through codec id 12: same codec, same record → nothing new.
        #expect(try d.video(body: buf("1c00000000" + MediaFixtures.hvcRecord), timestamp: 200).isEmpty)
        // H.264 frames no longer match the track: dropped.
        #expect(try d.video(body: buf("1701000000 0000000265aa"), timestamp: 300).isEmpty)
        let p = try #require(packets(try d.video(body: buf("a3 68766331 00000003020100"), timestamp: 340)).first)
        #expect(p.codec == .h265 && !p.isKeyFrame && p.pts == 340)
        let k = try #require(packets(try d.video(body: buf("1c01000028 000000032601af"), timestamp: 380)).first)
        #expect(k.isKeyFrame && k.pts == 420)
    }

    /// A demuxer that took the test file's AVC sequence header with `nalLengthSize`-byte NAL
    /// lengths, and what it made of it.
    func shortLengthDemuxer(nalLengthSize: Int) throws -> (FLVDemuxer, [MediaEvent]) {
        var record = try AVCDecoderConfigurationRecord(parsing: FLVFixtures.avcRecordBuffer())
        record.nalLengthSize = nalLengthSize
        var d = FLVDemuxer()
        var seq = ByteBuffer()
        FLVVideo.writeSequenceHeader(codec: .h264, record: record.encoded(), hevcMode: .legacy, into: &seq)
        let events = try d.video(body: seq, timestamp: 0)
        return (d, events)
    }

    @Test func shortNALLengthsAreRewrittenToFour() throws {
        let (demuxer, events) = try shortLengthDemuxer(nalLengthSize: 2)
        var d = demuxer
        let s = try #require(streams(events).first)
        #expect(try AVCDecoderConfigurationRecord(parsing: s.extradata).nalLengthSize == 4)
        let p = try #require(packets(try d.video(body: buf("1701000000 0002 65aa 0001 06"), timestamp: 0)).first)
        #expect(p.payload == buf("0000000265aa 0000000106"))
        #expect(throws: CodecError.self) { try d.video(body: buf("1701000000 0009 65aa"), timestamp: 40) }
    }

    /// FuzzRTMPChunk: a frame of empty NAL units with 1-byte lengths grew 4x when rewritten to
    /// 4-byte lengths. Empty NAL units are dropped now.
    @Test func emptyNALUnitsDoNotInflateShortLengthFrames() throws {
        var d = try shortLengthDemuxer(nalLengthSize: 1).0
        var frame = buf("1701000000")
        frame.writeRepeatingByte(0, count: 1024)  // 1024 empty NAL units
        frame.writeBytes([2, 0x65, 0xAA])
        let p = try #require(packets(try d.video(body: frame, timestamp: 0)).first)
        #expect(p.payload == buf("0000000265aa"))
        var empties = buf("1701000000")
        empties.writeRepeatingByte(0, count: 1024)
        #expect(packets(try d.video(body: empties, timestamp: 40)).allSatisfy { $0.payload.readableBytes == 0 })
    }

    @Test func aacConfigThenFrames() throws {
        var d = FLVDemuxer()
        #expect(try d.audio(body: buf("af01 2100"), timestamp: 0).isEmpty)  // before the ASC: dropped
        let s = try #require(streams(try d.audio(body: buf("af00121056e500"), timestamp: 0)).first)
        #expect(s.index == 1 && s.codec == .aac && s.timebase == 1000)
        #expect(s.audio == AudioParameters(sampleRate: 44100, channels: 2, objectType: 2))
        #expect(s.extradata == buf("121056e500"))
        #expect(try d.audio(body: buf("af00121056e500"), timestamp: 23).isEmpty)

        let events = try d.audio(body: buf("af01 214c"), timestamp: 46)
        let p = try #require(packets(events).first)
        #expect(events.count == 1 && p.streamIndex == 1 && p.dts == 46 && p.pts == 46 && p.isKeyFrame)
        #expect(p.payload == buf("214c"))

        let changed = try #require(streams(try d.audio(body: buf("af00 1188"), timestamp: 69)).first)
        #expect(changed.audio == AudioParameters(sampleRate: 48000, channels: 1, objectType: 2))
    }

    @Test func g711StreamOnFirstFrameAndOnChange() throws {
        var d = FLVDemuxer()
        let first = try d.audio(body: buf("72 d5d5d5"), timestamp: 0)
        #expect(first.count == 2)
        let s = try #require(streams(first).first)
        #expect(s.index == 1 && s.codec == .g711a && s.audio == AudioParameters(sampleRate: 8000, channels: 1))
        #expect(s.extradata.readableBytes == 0)
        guard case .packet(let p) = first[1] else { Issue.record("stream must precede packet"); return }
        #expect(p.codec == .g711a && p.payload == buf("d5d5d5") && p.dts == 0)

        #expect(try d.audio(body: buf("72 d5d5d5"), timestamp: 20).count == 1)
        let stereo = try d.audio(body: buf("73 d5d5d5d5"), timestamp: 40)
        #expect(streams(stereo).first?.audio?.channels == 2 && packets(stereo).count == 1)
        let mulaw = try d.audio(body: buf("83 ffff"), timestamp: 60)
        #expect(streams(mulaw).first?.codec == .g711u)
        let mp3 = try d.audio(body: buf("2f fffb"), timestamp: 80)
        #expect(streams(mp3).first?.audio == AudioParameters(sampleRate: 44100, channels: 2))
        // AAC frames after a G.711 track (no ASC seen) are dropped.
        #expect(try d.audio(body: buf("af01 2100"), timestamp: 100).isEmpty)
    }

    @Test func malformedInputThrowsAndKeepsState() throws {
        var d = FLVDemuxer()
        #expect(throws: (any Error).self) { try d.video(body: ByteBuffer(), timestamp: 0) }
        #expect(throws: (any Error).self) { try d.video(body: buf("1700000000 01ff"), timestamp: 0) }  // cut record
        #expect(throws: (any Error).self) { try d.video(body: buf("91 78787878 000000 00"), timestamp: 0) }
        #expect(throws: (any Error).self) { try d.audio(body: buf("af00 0000"), timestamp: 0) }  // AOT 0
        #expect(throws: (any Error).self) { try d.audio(body: ByteBuffer(), timestamp: 0) }
        #expect(d.videoStream == nil && d.audioStream == nil)
        #expect(try d.audio(body: buf("62 00"), timestamp: 0).isEmpty)  // ignored format

        var seed: UInt64 = 99
        for _ in 0..<1000 {
            var bytes: [UInt8] = []
            for _ in 0..<24 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            _ = try? d.video(body: ByteBuffer(bytes: bytes), timestamp: 0)
            _ = try? d.audio(body: ByteBuffer(bytes: bytes), timestamp: 0)
        }
    }

    @Test func demuxesFFmpegFLVHead() throws {
        var input = buf(FLVFixtures.ffmpegFLVHead)
        var reader = FLVTagReader()
        var d = FLVDemuxer()
        var found: [AVStream] = []
        while let tag = try reader.next(from: &input) {
            switch tag.type {
            case FLVTagType.video: found += streams(try d.video(body: tag.body, timestamp: Int64(tag.timestamp)))
            case FLVTagType.audio: found += streams(try d.audio(body: tag.body, timestamp: Int64(tag.timestamp)))
            default: break
            }
        }
        #expect(found.map(\.codec) == [.h264, .aac])
        #expect(found[0].video?.width == 1280 && found[0].video?.height == 720)
        #expect(found[1].audio == AudioParameters(sampleRate: 44100, channels: 2, objectType: 2))
    }
}

extension FLVDemuxer {
    /// The events of one video tag body, as an array (the tests read them one call at a time).
    mutating func video(body: ByteBuffer, timestamp: Int64) throws -> [MediaEvent] {
        var events: [MediaEvent] = []
        try video(body: body, timestamp: timestamp, into: &events)
        return events
    }

    mutating func audio(body: ByteBuffer, timestamp: Int64) throws -> [MediaEvent] {
        var events: [MediaEvent] = []
        try audio(body: body, timestamp: timestamp, into: &events)
        return events
    }
}
