import NIOCore
import RelayCore
import Testing
@testable import RelayJT1078

@Suite struct JT1078DemuxerTests {
    static func frame(_ body: ByteBuffer, pt: UInt8 = JT1078PayloadType.h264, ts: UInt64, type: JT1078DataType = .pFrame) -> JT1078Frame {
        JT1078Frame(payloadType: pt, dataType: type, timestamp: ts, body: body)
    }

    static func run(_ frames: [JT1078Frame], demuxer: inout JT1078StreamDemuxer) -> (streams: [AVStream], packets: [AVPacket], notices: [String]) {
        var events: [MediaEvent] = []
        for f in frames { demuxer.frame(f, into: &events) }
        var streams: [AVStream] = []
        var packets: [AVPacket] = []
        var notices: [String] = []
        for e in events {
            switch e {
            case .stream(let s): streams.append(s)
            case .packet(let p): packets.append(p)
            case .notice(let n): notices.append(n)
            case .tracks: break
            }
        }
        return (streams, packets, notices)
    }

    @Test func h264AnnexBBecomesATrackAndLengthPrefixedPackets() throws {
        var d = JT1078StreamDemuxer()
        let delta = Fixtures.deltaFrameH264(size: 200)
        let r = Self.run([Self.frame(delta, ts: 960),  // before any key frame: dropped
                          Self.frame(Fixtures.keyFrameH264(size: 1000), ts: 1000, type: .iFrame),
                          Self.frame(delta, ts: 1040)], demuxer: &d)
        let stream = try #require(r.streams.first)
        #expect(r.streams.count == 1)
        #expect(stream.codec == .h264 && stream.index == 0 && stream.timebase == 1000)
        #expect(stream.video?.width == 1280 && stream.video?.height == 720)
        #expect(r.packets.count == 2)
        #expect(r.packets.map(\.isKeyFrame) == [true, false])
        #expect(r.packets.map(\.dts) == [0, 40])  // stream time starts at the first frame passed on
        let nals = try AnnexB.nalUnits(lengthPrefixed: r.packets[0].payload)
        #expect(nals.map { $0.getInteger(at: $0.readerIndex, as: UInt8.self)! & 0x1F } == [7, 8, 5])
        #expect(try AnnexB.nalUnits(lengthPrefixed: r.packets[1].payload) == AnnexB.split(delta))
    }

    @Test func h265ParameterSetsInFramesOfTheirOwnJoinThePicture() throws {
        var d = JT1078StreamDemuxer()
        let pt = JT1078PayloadType.h265
        let r = Self.run([Self.frame(Fixtures.annexB([Fixtures.hevcVPS]), pt: pt, ts: 0, type: .iFrame),
                          Self.frame(Fixtures.annexB([Fixtures.hevcSPS, Fixtures.hevcPPS]), pt: pt, ts: 0, type: .iFrame),
                          Self.frame(Fixtures.annexB([[0x46, 0x01, 0x50], Fixtures.hevcSlice(key: true, size: 800)]), pt: pt, ts: 0, type: .iFrame),
                          Self.frame(Fixtures.annexB([Fixtures.hevcSlice(key: false, size: 300)]), pt: pt, ts: 40)], demuxer: &d)
        let stream = try #require(r.streams.first)
        #expect(stream.codec == .h265 && stream.video?.width == 1280 && stream.video?.height == 720)
        #expect(r.packets.map(\.isKeyFrame) == [true, false])
        let types = try AnnexB.nalUnits(lengthPrefixed: r.packets[0].payload).map { ($0.getInteger(at: $0.readerIndex, as: UInt8.self)! >> 1) & 0x3F }
        #expect(types == [32, 33, 34, 19])  // VPS SPS PPS, the AUD (35) dropped, the IDR
    }

    @Test func afterADiscontinuityVideoWaitsForAKeyFrame() {
        var d = JT1078StreamDemuxer()
        _ = Self.run([Self.frame(Fixtures.keyFrameH264(), ts: 0, type: .iFrame)], demuxer: &d)
        d.discontinuity()
        let r = Self.run([Self.frame(Fixtures.deltaFrameH264(), ts: 40), Self.frame(Fixtures.keyFrameH264(), ts: 80, type: .iFrame),
                          Self.frame(Fixtures.deltaFrameH264(), ts: 120)], demuxer: &d)
        #expect(r.packets.map(\.dts) == [80, 120])
        #expect(r.streams.isEmpty)  // the same parameter sets: no new track configuration
    }

    @Test func g711WithAndWithoutTheHiSiliconHeader() throws {
        var d = JT1078StreamDemuxer()
        let audio = Array(repeating: UInt8(0xD5), count: 320)
        var hisi = ByteBuffer(bytes: HiSiliconAudioHeader.make(length: 320))
        hisi.writeBytes(audio)
        #expect(hisi.getBytes(at: 0, length: 4) == [0x00, 0x01, 0xA0, 0x00])
        let r = Self.run([Self.frame(hisi, pt: JT1078PayloadType.g711a, ts: 0, type: .audio),
                          Self.frame(bytes(audio), pt: JT1078PayloadType.g711a, ts: 40, type: .audio)], demuxer: &d)
        let stream = try #require(r.streams.first)
        #expect(stream.codec == .g711a && stream.index == 1 && stream.audio == AudioParameters(sampleRate: 8000, channels: 1))
        #expect(r.packets.map(\.payload) == [bytes(audio), bytes(audio)])
        #expect(r.packets.map(\.dts) == [0, 40])
        #expect(r.notices.contains { $0.contains("HiSilicon") })

        var u = JT1078StreamDemuxer()
        let ru = Self.run([Self.frame(bytes(Array(repeating: 0xFF, count: 160)), pt: JT1078PayloadType.g711u, ts: 5, type: .audio)], demuxer: &u)
        #expect(ru.streams.first?.codec == .g711u && ru.packets.count == 1 && ru.notices.isEmpty)
    }

    @Test func aacFromADTS() throws {
        var d = JT1078StreamDemuxer()
        let asc = try AAC.AudioSpecificConfig(parsing: AAC.lcConfig(sampleRate: 16000, channels: 1))
        var body = ByteBuffer(bytes: HiSiliconAudioHeader.make(length: 2 * (7 + 50)))
        for fill in [UInt8(0x11), 0x22] {
            try AAC.ADTSHeader(config: asc, payloadLength: 50).write(into: &body)
            body.writeBytes(Array(repeating: fill, count: 50))
        }
        let r = Self.run([Self.frame(body, pt: JT1078PayloadType.aac, ts: 1000, type: .audio)], demuxer: &d)
        let stream = try #require(r.streams.first)
        #expect(stream.codec == .aac && stream.audio?.sampleRate == 16000 && stream.audio?.channels == 1)
        #expect(r.packets.map(\.payload) == [bytes(Array(repeating: 0x11, count: 50)), bytes(Array(repeating: 0x22, count: 50))])
        #expect(r.packets.map(\.dts) == [0, 64])  // 1024 samples at 16 kHz
    }

    @Test func unsupportedPayloadTypesAreLoggedOnceAndDropped() {
        var d = JT1078StreamDemuxer()
        // G.729 and AMR (G.726 and IMA ADPCM are transcoded: JT1078AudioTranscoderTests).
        let r = Self.run([Self.frame(bytes([1, 2, 3]), pt: 5, ts: 0, type: .audio), Self.frame(bytes([1, 2, 3]), pt: 5, ts: 40, type: .audio),
                          Self.frame(bytes([1, 2, 3]), pt: 28, ts: 80, type: .audio)], demuxer: &d)
        #expect(r.packets.isEmpty && r.streams.isEmpty)
        #expect(r.notices.count == 2)
        #expect(r.notices.first?.contains("5 (G.729)") == true)
        #expect(d.droppedFrames == 3)
    }

    @Test func terminalClockJumpsDoNotMoveStreamTimeBackwards() {
        var d = JT1078StreamDemuxer()
        let key = Fixtures.keyFrameH264()
        let delta = Fixtures.deltaFrameH264()
        let r = Self.run([Self.frame(key, ts: 5_000_000, type: .iFrame), Self.frame(delta, ts: 5_000_040),
                          Self.frame(delta, ts: 17),  // the terminal rebooted
                          Self.frame(delta, ts: 57)], demuxer: &d)
        #expect(r.packets.map(\.dts) == [0, 40, 80, 120])
        #expect(r.notices.contains { $0.contains("jumped") })
    }
}

@Suite struct JT1078SenderTests {
    @Test func annexBFileIsCutIntoAccessUnits() throws {
        var stream = Fixtures.annexB([[0x09, 0xF0], Fixtures.h264SPS, Fixtures.h264PPS, Fixtures.h264Slice(key: true, size: 50)])
        stream.writeImmutableBuffer(Fixtures.annexB([[0x09, 0xF0], Fixtures.h264Slice(key: false, size: 30)]))
        stream.writeImmutableBuffer(Fixtures.annexB([Fixtures.h264Slice(key: false, size: 30, seed: 1)]))
        // A second slice of the same picture (first_mb_in_slice != 0) stays with it.
        stream.writeImmutableBuffer(Fixtures.annexB([[0x41, 0x08, 0x11, 0x22]]))
        let media = try JT1078SendMedia.make(annexB: stream, codec: nil)
        #expect(media.videoCodec == .h264)
        #expect(media.videoFrames.map(\.isKey) == [true, false, false])
        #expect(media.videoFrames[0].annexB == Fixtures.annexB([Fixtures.h264SPS, Fixtures.h264PPS, Fixtures.h264Slice(key: true, size: 50)]))
        #expect(media.videoFrames[2].annexB == Fixtures.annexB([Fixtures.h264Slice(key: false, size: 30, seed: 1), [0x41, 0x08, 0x11, 0x22]]))

        let hevc = Fixtures.annexB([Fixtures.hevcVPS, Fixtures.hevcSPS, Fixtures.hevcPPS, Fixtures.hevcSlice(key: true, size: 40),
                                    Fixtures.hevcSlice(key: false, size: 40)])
        let h = try JT1078SendMedia.make(annexB: hevc, codec: nil)
        #expect(h.videoCodec == .h265 && h.videoFrames.map(\.isKey) == [true, false])
    }

    /// The schedule interleaves audio and video in time order; HiSilicon headers and all-atomic
    /// marks come out as asked, and decode back to the same frames.
    @Test func scheduleRoundTrip() throws {
        var media = try JT1078SendMedia.make(annexB: {
            var s = Fixtures.keyFrameH264(size: 2000)
            for i in 0..<4 { s.writeImmutableBuffer(Fixtures.deltaFrameH264(size: 300, seed: UInt8(i))) }
            return s
        }(), codec: .h264)
        try media.addAudio(ByteBuffer(bytes: Array(repeating: 0xD5, count: 8 * 200)), codec: .g711a, frameMs: 40)
        var schedule = try JT1078Schedule(media: media, options: JT1078SendOptions(version: .v2019, sim: "1", marks: .allAtomic,
                                                                                   hisiliconAudio: true))
        var wire = ByteBuffer()
        var times: [Double] = []
        while let step = schedule.next() {
            times.append(step.time)
            wire.writeImmutableBuffer(step.bytes)
        }
        #expect(times == times.sorted() && times.count == 10)
        var decoder = JT1078FrameDecoder()
        let packets = try decodeAll([wire], decoder: &decoder, finish: true)
        #expect(decoder.version == .v2019)
        #expect(packets.allSatisfy { $0.subpackage == .atomic && $0.sim == "00000000000000000001" })
        let audio = packets.filter { $0.dataType == .audio }
        #expect(audio.count == 5 && audio.allSatisfy { HiSiliconAudioHeader.isPresent(in: $0.body) && $0.body.readableBytes == 324 })
        let (events, _) = reassemble(packets.filter { $0.dataType.isVideo } + [packet(Fixtures.deltaFrameH264(size: 1), mark: .atomic, ts: 999)])
        #expect(events.frames.map(\.body) == media.videoFrames.map(\.annexB))
    }
}
