import NIOCore
import RelayCore
@testable import RelayRTP
import Testing

/// Program streams as devices in the field write them, built with PSMuxer and then bent: a map
/// only in the first pack, MPEG-1 pack headers, H.265 parameter sets only at the first key
/// frame, audio on private stream 1 (0xBD) next to private data there.
struct PSQuirksTests {
    /// 12 frames (a key frame every 4) each followed by a 320-byte G.711 pack; `bend` rewrites
    /// the packs of frame i (`key`: whether it is a key frame) before they are sent.
    static func program(codec: CodecID = .h264, audio: CodecID? = .g711a, muxer configure: (inout PSMuxer) -> Void = { _ in },
                        video nalsOf: (Int, Bool) -> [ByteBuffer]? = { _, _ in nil },
                        audioFrame: (Int) -> ByteBuffer = { _ in ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 320)) },
                        mapOnKeyFrame: (Int) -> Bool = { _ in true },
                        bend: (ByteBuffer) -> ByteBuffer = { $0 }) -> (ps: [ByteBuffer], nals: [[ByteBuffer]]) {
        var muxer = PSMuxer(video: codec, audio: audio)
        configure(&muxer)
        var out: [ByteBuffer] = []
        var all: [[ByteBuffer]] = []
        for i in 0..<12 {
            let key = i % 4 == 0
            let nals = nalsOf(i, key) ?? (codec == .h264 ? Fixtures.h264Frame(i, key: key) : Fixtures.h265Frame(i, key: key))
            all.append(nals)
            var b = ByteBuffer()
            muxer.writeVideo(nals: nals, pts: 90_000 + Int64(i) * 3600, isKey: key && mapOnKeyFrame(i), into: &b)
            out.append(bend(b))
            if audio != nil {
                var a = ByteBuffer()
                muxer.writeAudio(audioFrame(i), pts: 90_000 + Int64(i) * 3600, into: &a)
                out.append(bend(a))
            }
        }
        return (out, all)
    }

    /// RTP-sized pieces, frame hints as the RTP layer gives them.
    static func demux(_ ps: [ByteBuffer]) throws -> Demuxed {
        try PSDemuxerTests.demux(PSDemuxerTests.rechunk(ps, size: 1400), finish: true)
    }

    // MARK: map only in the first pack

    /// Later key frames come without system header and map: they are still key frames (from
    /// the bitstream) and the audio keeps its type from the first map.
    @Test func aMapOnlyInTheFirstPack() throws {
        let (ps, nals) = Self.program(mapOnKeyFrame: { $0 == 0 })
        let d = try Self.demux(ps)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
        #expect(d.video.map(\.isKeyFrame) == (0..<12).map { $0 % 4 == 0 })
        #expect(d.audio.count == 12 && d.audio.allSatisfy { $0.codec == .g711a })
        #expect(d.tracks.count == 1)

        // After a loss the parser resyncs at a pack without a map: the next key frame restarts video.
        var demuxer = PSDemuxer(options: .init(lossPolicy: .nextKeyFrame))
        var events: [MediaEvent] = []
        for (i, pack) in ps.enumerated() {
            if i == 6 { demuxer.loss(into: &events) ; continue }  // frame 3's video pack lost
            try demuxer.feed(pack, arrival: Int64(i) * 1800, into: &events)
            try demuxer.endOfFrame(into: &events)
        }
        let after = Demuxed(events: events)
        #expect(after.video.map(\.isKeyFrame) == [true, false, false, true, false, false, false, true, false, false, false])
    }

    // MARK: MPEG-1 pack headers

    /// ISO/IEC 11172-1 pack headers (12 bytes) in front of MPEG-2 PES, system header and map:
    /// every frame and every audio packet comes out.
    @Test func mpeg1PackHeadersAroundMPEG2Units() throws {
        let (ps, nals) = Self.program(bend: { pack in
            var rest = pack
            rest.moveReaderIndex(forwardBy: 14)  // the MPEG-2 pack header PSMuxer wrote
            var b = ByteBuffer(bytes: [0x00, 0x00, 0x01, 0xBA, 0x21, 0x00, 0x01, 0x00, 0x01, 0x80, 0x1B, 0x91])
            b.writeBuffer(&rest)
            return b
        })
        let d = try Self.demux(ps)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
        #expect(d.video.map(\.dts) == (0..<12).map { Int64($0) * 3600 })
        #expect(d.audio.count == 12 && d.audio.allSatisfy { $0.codec == .g711a })
    }

    // MARK: H.265 parameter sets only at the first key frame

    /// Later IDR frames without VPS/SPS/PPS: they go out as key frames with the first
    /// parameter sets, and the stream is announced once.
    @Test func h265ParameterSetsOnlyAtTheFirstKeyFrame() throws {
        let (ps, nals) = Self.program(codec: .h265, video: { i, key in
            guard key, i > 0 else { return nil }
            return Array(Fixtures.h265Frame(i, key: true).suffix(1))  // the IDR slice alone
        })
        let d = try Self.demux(ps)
        #expect(d.video.count == 12)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
        #expect(d.video.map(\.isKeyFrame) == (0..<12).map { $0 % 4 == 0 })
        let streams = d.streams.filter { $0.codec == .h265 }
        #expect(streams.count == 1 && streams.first?.video?.width == 64)

        // Also when the device restarts (a discontinuity): the known parameter sets serve the
        // next bare IDR.
        var demuxer = PSDemuxer()
        var events: [MediaEvent] = []
        for (i, pack) in PSDemuxerTests.rechunk(ps, size: 1400).enumerated() {
            if i == 10 { demuxer.discontinuity() }  // within frames 3-5
            try demuxer.feed(pack, arrival: Int64(i) * 900, into: &events)
        }
        try demuxer.finish(into: &events)
        let resumed = Demuxed(events: events).video
        #expect(resumed.suffix(4).map(\.payload) == nals[8...].map(Fixtures.avcc))
        #expect(resumed.suffix(4).map(\.isKeyFrame) == [true, false, false, false])
    }

    // MARK: private stream 1

    static let aacConfig = AAC.AudioSpecificConfig(objectType: 2, sampleRate: 44100, channelConfiguration: 2)

    static func adts(_ i: Int) -> ByteBuffer {
        var b = ByteBuffer()
        try? AAC.ADTSHeader(config: aacConfig, payloadLength: 100).write(into: &b)
        b.writeBytes([UInt8](repeating: UInt8(truncatingIfNeeded: i + 1), count: 100))
        return b
    }

    /// G.711 on 0xBD, which the map types as G.711 (0x90); AAC on 0xBD typed 0x0F.
    @Test(arguments: [CodecID.g711a, .g711u, .aac])
    func privateStream1AudioTypedByTheMap(codec: CodecID) throws {
        let (ps, _) = Self.program(audio: codec, muxer: { $0.audioStreamID = 0xBD },
                                   audioFrame: { codec == .aac ? Self.adts($0) : ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 320)) })
        let d = try Self.demux(ps)
        #expect(d.video.count == 12)
        #expect(d.audio.count == 12, "\(d.notices)")
        #expect(d.audio.allSatisfy { $0.codec == codec })
        #expect(d.tracks.first.map { $0 == (true, true) } == true)
    }

    /// ADTS on 0xBD that the map does not list (it lists video only): taken as AAC.
    @Test func privateStream1ADTSWithoutAMapEntry() throws {
        let (ps, _) = Self.program(audio: nil)
        var muxer = PSMuxer(video: .h264, audio: .aac)
        muxer.audioStreamID = 0xBD
        var withAudio: [ByteBuffer] = []
        for (i, pack) in ps.enumerated() {
            withAudio.append(pack)
            var a = ByteBuffer()
            muxer.writeAudio(Self.adts(i), pts: 90_000 + Int64(i) * 3600, into: &a)
            withAudio.append(a)
        }
        let d = try Self.demux(withAudio)
        #expect(d.video.count == 12)
        #expect(d.audio.count == 12 && d.audio.allSatisfy { $0.codec == .aac && $0.payload.readableBytes == 100 })
        #expect(d.streams.contains { $0.codec == .aac && $0.audio?.sampleRate == 44100 })
        let dts = d.audio.map(\.dts)
        #expect(zip(dts, dts.dropFirst()).allSatisfy { $1 > $0 }, "\(dts)")
    }

    /// A loss in the middle of the first 0xBD PES (private data, not yet looked at) does not
    /// leave 0xBD standing as the audio stream: the G.711 on 0xC0 after it comes out.
    @Test func aLossWhileProbingPrivateStream1KeepsTheRealAudio() throws {
        let muxer = PSMuxer(video: .h264, audio: .g711a)
        var demuxer = PSDemuxer()
        var events: [MediaEvent] = []
        var key = ByteBuffer()
        muxer.writeVideo(nals: Fixtures.h264Frame(0, key: true), pts: 0, isKey: true, into: &key)
        try demuxer.feed(key, arrival: 0, into: &events)
        try demuxer.endOfFrame(into: &events)
        var privateData = ByteBuffer()
        PSMuxer.writePackHeader(scr: 1800, into: &privateData)
        PSMuxer.writePES(streamID: 0xBD, payload: ByteBuffer(bytes: Fixtures.body(300, seed: 1)), pts: 1800, dts: nil, into: &privateData)
        try demuxer.feed(privateData.getSlice(at: 0, length: 100)!, arrival: 1800, into: &events)
        demuxer.loss(into: &events)
        for i in 1..<4 {
            var a = ByteBuffer()
            muxer.writeAudio(ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 320)), pts: Int64(i) * 3600, into: &a)
            try demuxer.feed(a, arrival: Int64(i) * 3600, into: &events)
            var v = ByteBuffer()
            muxer.writeVideo(nals: Fixtures.h264Frame(i, key: false), pts: Int64(i) * 3600, isKey: false, into: &v)
            try demuxer.feed(v, arrival: Int64(i) * 3600, into: &events)
            try demuxer.endOfFrame(into: &events)
        }
        let d = Demuxed(events: events)
        #expect(d.audio.count == 3 && d.audio.allSatisfy { $0.codec == .g711a }, "\(d.notices)")
        #expect(d.video.count >= 3)
    }

    /// Hikvision-style private data on 0xBD (valid PES headers, with and without a PTS, and one
    /// header that is no PES header at all) next to G.711 on 0xC0: the audio is the 0xC0 one,
    /// the private data never reaches the output nor disturbs video.
    @Test func privateStream1DataIsStillSkipped() throws {
        let (ps, nals) = Self.program(bend: { pack in
            var b = pack
            PSMuxer.writePES(streamID: 0xBD, payload: ByteBuffer(bytes: [0x48, 0x4B, 0x01] + Fixtures.body(300, seed: 3)),
                             pts: 12345, dts: nil, into: &b)
            PSMuxer.writePES(streamID: 0xBD, payload: ByteBuffer(bytes: Fixtures.body(40, seed: 4)), pts: nil, dts: nil, into: &b)
            b.writeBytes([0x00, 0x00, 0x01, 0xBD, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44])  // no PES header
            return b
        })
        let d = try Self.demux(ps)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
        #expect(d.audio.count == 12 && d.audio.allSatisfy { $0.codec == .g711a && $0.payload.readableBytes == 320 })
        #expect(d.audio.allSatisfy { $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt8.self) == 0xD5 })
        #expect(!d.notices.contains { $0.contains("0xbd") || $0.contains("0xBD") }, "\(d.notices)")
    }
}
