import NIOCore
import RelayCore
@testable import RelayRTP
import Testing

struct PSDemuxerTests {
    /// Feeds pieces with arrival times 0, 3600, … (one per piece unless given).
    static func demux(_ pieces: [ByteBuffer], hints: Bool = false, finish: Bool = true,
                      arrivals: [Int64]? = nil, demuxer: inout PSDemuxer) throws -> Demuxed {
        var d = Demuxed()
        for (i, piece) in pieces.enumerated() {
            try demuxer.feed(piece, arrival: arrivals?[i] ?? Int64(i) * 1800, into: &d.events)
            if hints { try demuxer.endOfFrame(into: &d.events) }
        }
        if finish { try demuxer.finish(into: &d.events) }
        return d
    }

    static func demux(_ pieces: [ByteBuffer], hints: Bool = false, finish: Bool = true, arrivals: [Int64]? = nil) throws -> Demuxed {
        var demuxer = PSDemuxer()
        return try demux(pieces, hints: hints, finish: finish, arrivals: arrivals, demuxer: &demuxer)
    }

    /// Joins and re-cuts a byte stream into pieces of `size`.
    /// `count` packs, each a pack header (SCR 0) and then what `body` writes for pack i.
    static func packs(_ count: Int, _ body: (Int, inout ByteBuffer) -> Void) -> [ByteBuffer] {
        (0..<count).map { i in
            var b = ByteBuffer()
            PSMuxer.writePackHeader(scr: 0, into: &b)
            body(i, &b)
            return b
        }
    }

    static func rechunk(_ pieces: [ByteBuffer], size: Int) -> [ByteBuffer] {
        var all = ByteBuffer()
        for var p in pieces { all.writeBuffer(&p) }
        var out: [ByteBuffer] = []
        while all.readableBytes > 0 { out.append(all.readSlice(length: min(size, all.readableBytes))!) }
        return out
    }

    @Test func handBuiltGB28181StreamWithMapSystemHeaderAndAudio() throws {
        let (ps, nals) = Fixtures.program(frames: 12, gop: 5)
        // With frame hints (RTP marker) each frame comes out as soon as its pack is fed.
        let d = try Self.demux(ps, hints: true, finish: false)
        #expect(d.tracks.count == 1 && d.tracks[0] == (true, true))
        let video = d.video
        #expect(video.count == 12)
        #expect(video.map(\.isKeyFrame) == (0..<12).map { $0 % 5 == 0 })
        #expect(video.map(\.dts) == (0..<12).map { Int64($0) * 3600 })
        #expect(video.allSatisfy { $0.pts == $0.dts && $0.codec == .h264 })
        for (i, p) in video.enumerated() {
            #expect(p.payload == Fixtures.avcc(nals[i]), "frame \(i)")
        }
        let stream = try #require(d.streams.first { $0.codec == .h264 })
        #expect(stream.video?.width == 64 && stream.video?.height == 48)
        #expect(stream.timebase == 90000)
        let audio = d.audio
        #expect(audio.count == 12)
        #expect(audio.allSatisfy { $0.codec == .g711a && $0.payload.readableBytes == 320 })
        #expect(d.streams.contains { $0.codec == .g711a && $0.audio?.sampleRate == 8000 })
    }

    @Test func anySplitOfTheStreamGivesTheSameFrames() throws {
        let (ps, nals) = Fixtures.program(frames: 6, gop: 3)
        for size in [1, 2, 3, 5, 7, 13, 188, 1400, 4096] {
            let d = try Self.demux(Self.rechunk(ps, size: size))
            #expect(d.video.count == 6, "piece size \(size)")
            #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc), "piece size \(size)")
            #expect(d.audio.count == 6, "piece size \(size)")
        }
    }

    @Test func framesAreCutFromTheBitstreamWithoutHints() throws {
        // One big piece, no RTP hints: boundaries come from the NAL units, the last at finish.
        let (ps, _) = Fixtures.program(frames: 10, gop: 5, audio: nil)
        var demuxer = PSDemuxer()
        var d = try Self.demux(Self.rechunk(ps, size: 100_000), finish: false, demuxer: &demuxer)
        #expect(d.video.count == 9)
        try demuxer.finish(into: &d.events)
        #expect(d.video.count == 10)
    }

    @Test func h265StreamAndAACAudio() throws {
        let muxer = PSMuxer(video: .h265, audio: .aac)
        var ps: [ByteBuffer] = []
        // Two ADTS frames per PES (AAC-LC 44.1 kHz stereo).
        let config = AAC.AudioSpecificConfig(objectType: 2, sampleRate: 44100, channelConfiguration: 2)
        for i in 0..<6 {
            var b = ByteBuffer()
            muxer.writeVideo(nals: Fixtures.h265Frame(i, key: i == 0), pts: Int64(i) * 3600, isKey: i == 0, into: &b)
            ps.append(b)
            var adts = ByteBuffer()
            for k in 0..<2 {
                try AAC.ADTSHeader(config: config, payloadLength: 100).write(into: &adts)
                adts.writeBytes([UInt8](repeating: UInt8(k + 1), count: 100))
            }
            var a = ByteBuffer()
            muxer.writeAudio(adts, pts: Int64(i) * 4180, into: &a)
            ps.append(a)
        }
        let d = try Self.demux(ps, hints: true)
        #expect(d.video.count == 6)
        #expect(d.video.allSatisfy { $0.codec == .h265 })
        let stream = try #require(d.streams.first { $0.codec == .h265 })
        #expect(stream.video?.width == 64 && stream.video?.height == 48)
        #expect(d.audio.count == 12)
        #expect(d.audio.allSatisfy { $0.codec == .aac && $0.payload.readableBytes == 100 })
        let aac = try #require(d.streams.first { $0.codec == .aac })
        #expect(aac.audio?.sampleRate == 44100 && aac.audio?.channels == 2)
        // Second frame of each PES: the PES time plus one AAC frame (1024 samples).
        let dts = d.audio.map(\.dts)
        #expect(dts[1] - dts[0] == 1024 * 90000 / 44100)
    }

    @Test func streamsWithoutAMapAreRecognizedFromTheBitstream() throws {
        for codec in [CodecID.h264, .h265] {
            // A map-less muxer: write packs by hand (pack header + PES only).
            var ps: [ByteBuffer] = []
            for i in 0..<4 {
                var b = ByteBuffer()
                PSMuxer.writePackHeader(scr: Int64(i) * 3600, into: &b)
                let es = Fixtures.annexB(codec == .h264 ? Fixtures.h264Frame(i, key: i == 0) : Fixtures.h265Frame(i, key: i == 0))
                PSMuxer.writePES(streamID: 0xE0, payload: es, pts: Int64(i) * 3600, dts: nil, into: &b)
                PSMuxer.writePES(streamID: 0xC0, payload: ByteBuffer(bytes: [UInt8](repeating: 0x55, count: 160)),
                                 pts: Int64(i) * 3600, dts: nil, into: &b)
                ps.append(b)
            }
            let d = try Self.demux(ps)
            #expect(d.tracks.isEmpty)
            #expect(d.video.count == 4, "\(codec)")
            #expect(d.video.allSatisfy { $0.codec == codec })
            #expect(d.audio.count == 4)
            #expect(d.audio.allSatisfy { $0.codec == .g711a })
        }
    }

    @Test func mapAnnouncesG711OnAnotherStreamIDThanTheAudioIsSentOn() throws {
        // Vendor quirk: the map says 0x91 (µ-law) on 0xC1, the PES come on 0xC0.
        let (ps, _) = Fixtures.program(frames: 3, gop: 3, audio: .g711u) { m in
            m.mappedAudioStreamID = 0xC1
        }
        let d = try Self.demux(ps, hints: true)
        #expect(d.audio.count == 3)
        #expect(d.audio.allSatisfy { $0.codec == .g711u })
        #expect(d.notices.contains { $0.contains("not in the program stream map") })
    }

    @Test func privateAndPaddingStreamsAndStuffingAreSkipped() throws {
        let (ps, nals) = Fixtures.program(frames: 4, gop: 2, audio: nil)
        var withJunk: [ByteBuffer] = []
        for (i, var p) in ps.enumerated() {
            var b = ByteBuffer()
            b.writeBuffer(&p)
            // Hikvision private stream 1, a padding stream, and zero stuffing between units.
            PSMuxer.writePES(streamID: 0xBD, payload: ByteBuffer(bytes: [0x48, 0x4B] + Fixtures.body(200, seed: i)), pts: nil, dts: nil, into: &b)
            b.writeBytes([0, 0, 0, 0])
            b.writeBytes([0x00, 0x00, 0x01, 0xBE, 0x00, 0x10] + [UInt8](repeating: 0xFF, count: 16))
            b.writeBytes([0x00, 0x00, 0x01, 0xB9])  // end code
            withJunk.append(b)
        }
        let d = try Self.demux(withJunk, hints: true)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
    }

    @Test func mpeg1PackAndPESHeaders() throws {
        // ISO/IEC 11172-1 pack header (12 bytes) and PES headers with an MPEG-1 PTS field.
        var ps: [ByteBuffer] = []
        for i in 0..<3 {
            var b = ByteBuffer()
            b.writeBytes([0x00, 0x00, 0x01, 0xBA, 0x21, 0x00, 0x01, 0x00, 0x01, 0x80, 0x1B, 0x91])
            var es = ByteBuffer()
            for nal in Fixtures.h264Frame(i, key: i == 0, size: 500) {
                es.writeBytes([0, 0, 1])
                es.writeImmutableBuffer(nal)
            }
            let pts = UInt64(i) * 3600 + 1000
            let stamp: [UInt8] = [0x21 | UInt8(pts >> 29 & 0x0E), UInt8(pts >> 22 & 0xFF), UInt8(pts >> 14 & 0xFE) | 1,
                                  UInt8(pts >> 7 & 0xFF), UInt8(pts << 1 & 0xFE) | 1]
            let header: [UInt8] = [0xFF, 0xFF, 0x40, 0x20] + stamp  // stuffing, STD buffer, PTS
            b.writeBytes([0x00, 0x00, 0x01, 0xE0])
            b.writeInteger(UInt16(header.count + es.readableBytes))
            b.writeBytes(header)
            b.writeBuffer(&es)
            ps.append(b)
        }
        let d = try Self.demux(ps, hints: true)
        #expect(d.video.count == 3)
        #expect(d.video.map(\.dts) == [0, 3600, 7200])
    }

    @Test func ptsWrapsAt33Bits() throws {
        let (ps, _) = Fixtures.program(frames: 60, gop: 25, audio: .g711a, ptsStart: (1 << 33) - 90_000)
        let d = try Self.demux(ps, hints: true)
        #expect(d.video.count == 60)
        let dts = d.video.map(\.dts)
        #expect(zip(dts, dts.dropFirst()).allSatisfy { $1 - $0 == 3600 }, "\(dts)")
        let adts = d.audio.map(\.dts)
        #expect(zip(adts, adts.dropFirst()).allSatisfy { $1 > $0 })
    }

    @Test func absentPTSFallsBackToArrivalTime() throws {
        let muxer = PSMuxer(video: .h264, audio: nil)
        let ps = Self.packs(40) { i, b in
            if i % 10 == 0 {
                muxer.writeSystemHeader(into: &b)
                muxer.writeMap(into: &b)
            }
            let es = Fixtures.annexB(Fixtures.h264Frame(i, key: i % 10 == 0, size: 300))
            PSMuxer.writePES(streamID: 0xE0, payload: es, pts: nil, dts: nil, into: &b)
        }
        // Arrivals every 40 ms with jitter, starting at an arbitrary clock value.
        let arrivals: [Int64] = (0..<40).map { (i: Int) -> Int64 in Int64(5_000_000 + i * 3600 + (i % 3) * 200) }
        let d = try Self.demux(ps, hints: true, arrivals: arrivals)
        let dts = d.video.map(\.dts)
        #expect(dts.count == 40)
        #expect(zip(dts, dts.dropFirst()).allSatisfy { $1 > $0 })
        // After the switch, times follow arrival (jitter included).
        #expect(dts[39] - dts[30] == arrivals[39] - arrivals[30])
        #expect(d.notices.contains { $0.contains("arrival time") })
    }

    @Test func brokenPTSFallsBackToArrivalTime() throws {
        // Every frame stamped 0.
        var ps: [ByteBuffer] = []
        let muxer = PSMuxer(video: .h264, audio: nil)
        for i in 0..<20 {
            var b = ByteBuffer()
            muxer.writeVideo(nals: Fixtures.h264Frame(i, key: i == 0, size: 300), pts: 0, isKey: i == 0, into: &b)
            ps.append(b)
        }
        let arrivals = (0..<20).map { Int64(1000 + $0 * 3600) }
        let d = try Self.demux(ps, hints: true, arrivals: arrivals)
        let dts = d.video.map(\.dts)
        #expect(dts.count == 20)
        #expect(zip(dts, dts.dropFirst()).allSatisfy { $1 > $0 }, "\(dts)")
        #expect(dts[19] - dts[10] == 9 * 3600)
        #expect(d.notices.contains { $0.contains("do not increase") })
    }

    @Test func impossiblePESLengthIsAnError() {
        let (ps, _) = Fixtures.program(frames: 2, gop: 2, audio: nil)
        // A PES whose length (2) cannot even hold its own header.
        var bad = ps[0]
        bad.writeBytes([0x00, 0x00, 0x01, 0xBA, 0x44, 0, 4, 0, 4, 1, 0, 0, 3, 0xF8])
        bad.writeBytes([0x00, 0x00, 0x01, 0xE0, 0x00, 0x02, 0x80, 0x80, 0x05, 0x21, 0, 1, 0, 1])
        #expect(throws: PSError.impossiblePESLength(streamID: 0xE0, length: 2, headerLength: 3)) {
            _ = try Self.demux([bad])
        }
        // Header data length 10 in a PES of length 8.
        var bad2 = ps[0]
        bad2.writeBytes([0x00, 0x00, 0x01, 0xC0, 0x00, 0x08, 0x80, 0x80, 0x0A] + [UInt8](repeating: 0x11, count: 20))
        #expect(throws: PSError.impossiblePESLength(streamID: 0xC0, length: 8, headerLength: 13)) {
            _ = try Self.demux([bad2])
        }
        // Unbounded audio PES.
        var bad3 = ps[0]
        bad3.writeBytes([0x00, 0x00, 0x01, 0xC0, 0x00, 0x00, 0x80, 0x00, 0x00])
        #expect(throws: PSError.unboundedPES(streamID: 0xC0)) { _ = try Self.demux([bad3]) }
    }

    @Test func bytesThatAreNoProgramStreamAreAnErrorEventually() {
        var state: UInt32 = 1
        let garbage = ByteBuffer(bytes: (0..<300_000).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24) | 1  // never zero: no start code anywhere
        })
        #expect(throws: PSError.self) { _ = try Self.demux(Self.rechunk([garbage], size: 1400)) }
    }

    @Test func unboundedVideoPESRunsToTheNextPack() throws {
        let muxer = PSMuxer(video: .h264, audio: nil)
        let ps = Self.packs(3) { i, b in
            if i == 0 { muxer.writeMap(into: &b) }
            b.writeBytes([0x00, 0x00, 0x01, 0xE0, 0x00, 0x00, 0x80, 0x80, 0x05])
            MPEG2Systems.writeTimestamp(Int64(i) * 3600, prefix: 2, into: &b)
            b.writeImmutableBuffer(Fixtures.annexB(Fixtures.h264Frame(i, key: i == 0)))
        }
        let d = try Self.demux(Self.rechunk(ps, size: 1000))
        #expect(d.video.count == 3)
        #expect(d.video.map(\.dts) == [0, 3600, 7200])
    }

    @Test func afterLossVideoWaitsForTheNextKeyFrame() throws {
        let (ps, _) = Fixtures.program(frames: 10, gop: 5, audio: nil)
        var demuxer = PSDemuxer()
        var d = Demuxed()
        for (i, p) in ps.enumerated() {
            if i == 2 {
                // Half of frame 2 arrives, then the rest is lost.
                try demuxer.feed(p.getSlice(at: p.readerIndex, length: p.readableBytes / 2)!, arrival: 0, into: &d.events)
                demuxer.discontinuity()
                continue
            }
            try demuxer.feed(p, arrival: Int64(i) * 3600, into: &d.events)
            try demuxer.endOfFrame(into: &d.events)
        }
        // Frames 0, 1, then nothing until the key frame 5.
        #expect(d.video.map(\.dts) == [0, 3600, 18000, 21600, 25200, 28800, 32400])
        #expect(d.video.map(\.isKeyFrame) == [true, false, true, false, false, false, false])
        #expect(demuxer.stats.droppedFrames == 2)
    }

    @Test func hintsAreTrustedOnceTheyAgreeWithTheBitstream() throws {
        let (ps, nals) = Fixtures.program(frames: 8, gop: 4, audio: .g711a)
        var demuxer = PSDemuxer()
        var d = Demuxed()
        var counts: [Int] = []
        for (i, p) in ps.enumerated() {
            try demuxer.feed(p, arrival: Int64(i) * 1800, into: &d.events)
            try demuxer.endOfFrame(into: &d.events)
            if i % 2 == 0 { counts.append(d.video.count) }  // after each video pack
        }
        // While being checked, a frame comes out when the next starts; then at once.
        #expect(counts == [0, 1, 2, 4, 5, 6, 7, 8])
        #expect(demuxer.frameHints == .trusted)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
    }

    @Test func wrongFrameHintsAreNoticedAndNeverCorruptAFrame() throws {
        // Each frame in two PES cut in the middle of a NAL unit, with a "frame ended" hint
        // (say, a marker bit on every packet) after each PES.
        var pieces: [ByteBuffer] = []
        var nals: [[ByteBuffer]] = []
        let muxer = PSMuxer(video: .h264, audio: nil)
        for i in 0..<8 {
            let frame = Fixtures.h264Frame(i, key: i % 4 == 0)
            nals.append(frame)
            let es = Fixtures.annexB(frame)
            let half = es.readableBytes / 2
            var first = ByteBuffer()
            PSMuxer.writePackHeader(scr: Int64(i) * 3600, into: &first)
            if i % 4 == 0 { muxer.writeMap(into: &first) }
            PSMuxer.writePES(streamID: 0xE0, payload: es.getSlice(at: es.readerIndex, length: half)!,
                             pts: Int64(i) * 3600, dts: nil, into: &first)
            var second = ByteBuffer()
            PSMuxer.writePES(streamID: 0xE0, payload: es.getSlice(at: es.readerIndex + half, length: es.readableBytes - half)!,
                             pts: nil, dts: nil, into: &second)
            pieces += [first, second]
        }
        let d = try Self.demux(pieces, hints: true)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
        #expect(d.notices.contains { $0.contains("frame-end hints") })
    }

    @Test func aHintInsideAPESDisablesHints() throws {
        let (ps, nals) = Fixtures.program(frames: 6, gop: 3, audio: nil)
        var demuxer = PSDemuxer()
        let d = try Self.demux(Self.rechunk(ps, size: 700), hints: true, demuxer: &demuxer)
        #expect(demuxer.frameHints == .distrusted)
        #expect(d.video.map(\.payload) == nals.map(Fixtures.avcc))
    }

    @Test func audioWaitsForTheFirstVideoKeyFrame() throws {
        // Joined mid-GOP: frames 3 and 4 are P-frames, 5 is the first key frame.
        let (ps, _) = Fixtures.program(frames: 13, gop: 5)
        let late = Array(ps.dropFirst(6))
        let arrivals = (0..<late.count).map { Int64($0) * 3600 }
        let d = try Self.demux(late, hints: true, arrivals: arrivals)
        #expect(d.video.count == 8)
        #expect(d.video.first?.isKeyFrame == true)
        // Audio before the key frame (more than 100 ms before it arrived) is dropped.
        #expect(d.audio.count == 9, "audio \(d.audio.count)")
        let firstVideo = try #require(d.events.firstIndex { if case .packet(let p) = $0 { p.isVideo } else { false } })
        let firstAudio = try #require(d.events.firstIndex { if case .packet(let p) = $0 { !p.isVideo } else { false } })
        #expect(firstVideo < firstAudio, "nothing reaches the source before the key frame")
    }

    @Test func audioOnlyStreamsAreNotHeldBack() throws {
        // The map says audio only: out at once.
        let muxer = PSMuxer(video: nil, audio: .g711a)
        var withMap: [ByteBuffer] = []
        for i in 0..<5 {
            var b = ByteBuffer()
            if i == 0 { muxer.writeMap(into: &b) }
            muxer.writeAudio(ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 160)), pts: Int64(i) * 1800, into: &b)
            withMap.append(b)
        }
        let d = try Self.demux(withMap, finish: false)
        #expect(d.tracks.count == 1 && d.tracks[0] == (false, true))
        #expect(d.audio.count == 5)
        // No map and no video: audio waits 4 s for video, then goes alone.
        var noMap: [ByteBuffer] = []
        for i in 0..<150 {
            var b = ByteBuffer()
            muxer.writeAudio(ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 320)), pts: Int64(i) * 3600, into: &b)
            noMap.append(b)
        }
        let d2 = try Self.demux(noMap, finish: false, arrivals: (0..<150).map { Int64($0) * 3600 })
        #expect(d2.audio.count == 150)
        #expect(d2.notices.contains { $0.contains("audio goes out alone") })
    }

    @Test func framesOfFFmpegProgramStreams() throws {
        // MPEG-2 PS (vob) and MPEG-1 system stream (mpeg), H.264 with B-frames, no map.
        for format in ["vob", "mpeg"] {
            let bytes = try FFmpeg.make([
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "2", "-b:v", "1M", "-pix_fmt", "yuv420p",
                "-f", format,
            ], suffix: format)
            let d = try Self.demux(Self.rechunk([ByteBuffer(bytes: bytes)], size: 1316))
            let video = d.video
            #expect(video.count == 50, "\(format): \(video.count) frames")
            #expect(video.filter(\.isKeyFrame).count == 2, "\(format)")
            #expect(video.first?.isKeyFrame == true, "\(format)")
            let stream = try #require(d.streams.first { $0.codec == .h264 }, "\(format)")
            #expect(stream.video?.width == 320 && stream.video?.height == 240)
            let dts = video.map(\.dts)
            #expect(zip(dts, dts.dropFirst()).allSatisfy { $1 > $0 }, "\(format) dts \(dts)")
            #expect(video.allSatisfy { $0.pts >= $0.dts }, "\(format)")
            // B-frames: presentation order differs from decode order.
            #expect(video.map(\.pts) != video.map(\.pts).sorted(), "\(format)")
        }
    }

    @Test func h265InAnFFmpegProgramStream() throws {
        let bytes = try FFmpeg.make([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "1",
            "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=25:bframes=0",
            "-f", "vob",
        ], suffix: "vob")
        let d = try Self.demux(Self.rechunk([ByteBuffer(bytes: bytes)], size: 1400))
        #expect(d.video.count == 25)
        #expect(d.video.allSatisfy { $0.codec == .h265 })
        let stream = try #require(d.streams.first { $0.codec == .h265 })
        #expect(stream.video?.width == 320 && stream.video?.height == 240)
    }
}
