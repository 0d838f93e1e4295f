import NIOCore
import RelayCore
import RelayRTP
import Testing

/// What a lost RTP packet costs the program stream demuxer (`loss()`, `VideoLossPolicy`).
struct PSDemuxerLossTests {
    /// Ten frames (key frames 0 and 5), each whole pack followed by an end-of-frame hint as RTP
    /// markers give; `damage(i, pack)` returns what of pack i arrives and whether a loss came before it.
    static func run(policy: VideoLossPolicy = .nextFrame, audio: CodecID? = nil,
                    damage: (Int, ByteBuffer) -> (ByteBuffer?, lossBefore: Bool, lossAfter: Bool)) throws -> (Demuxed, PSDemuxer) {
        let (ps, _) = Fixtures.program(frames: 10, gop: 5, audio: audio)
        var demuxer = PSDemuxer(options: PSDemuxer.Options(lossPolicy: policy))
        var d = Demuxed()
        for (i, p) in ps.enumerated() {
            let (piece, before, after) = damage(i, p)
            if before { demuxer.loss(into: &d.events) }
            if let piece {
                try demuxer.feed(piece, arrival: Int64(i) * 3600, into: &d.events)
                // The marker is on a frame's last packet: a piece cut short has none.
                if piece.readableBytes == p.readableBytes { try demuxer.endOfFrame(into: &d.events) }
            }
            if after { demuxer.loss(into: &d.events) }
        }
        try demuxer.finish(into: &d.events)
        return (d, demuxer)
    }

    static func half(_ p: ByteBuffer, tail: Bool) -> ByteBuffer {
        let n = p.readableBytes / 2
        return p.getSlice(at: p.readerIndex + (tail ? n : 0), length: tail ? p.readableBytes - n : n) ?? ByteBuffer()
    }

    @Test func aLossInsideAFrameCostsOnlyThatFrame() throws {
        let (d, demuxer) = try Self.run { i, p in i == 2 ? (Self.half(p, tail: false), false, true) : (p, false, false) }
        #expect(d.video.map(\.dts) == [0, 3600] + (3..<10).map { Int64($0) * 3600 })
        #expect(demuxer.damagedFrames == 1 && demuxer.stats.droppedFrames == 0)
    }

    @Test func aFrameWhoseStartWasLostIsSkipped() throws {
        let (d, demuxer) = try Self.run { i, p in i == 2 ? (Self.half(p, tail: true), true, false) : (p, false, false) }
        #expect(d.video.map(\.dts) == [0, 3600] + (3..<10).map { Int64($0) * 3600 })
        #expect(demuxer.damagedFrames == 0, "nothing of frame 2 reached the assembler")
    }

    @Test func aLostAudioPackNeverCostsVideo() throws {
        // Packs alternate video, audio: pack 5 is the audio after video frame 2.
        let (d, demuxer) = try Self.run(audio: .g711a) { i, p in i == 5 ? (nil, true, false) : (p, false, false) }
        #expect(d.video.count == 10)
        #expect(d.audio.count == 9)
        #expect(demuxer.damagedFrames == 0)
    }

    @Test func nextKeyFramePolicyFreezesUntilTheKeyFrame() throws {
        let (d, demuxer) = try Self.run(policy: .nextKeyFrame) { i, p in
            i == 2 ? (Self.half(p, tail: false), false, true) : (p, false, false)
        }
        #expect(d.video.map(\.dts) == [0, 3600] + (5..<10).map { Int64($0) * 3600 })
        #expect(demuxer.damagedFrames == 1 && demuxer.stats.droppedFrames == 2)
    }
}
