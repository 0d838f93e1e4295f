import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayHLS

@Suite struct TSMuxerTests {
    let h264 = try! AVStream.h264(index: 0, timebase: 1000, avcRecord: hexBuffer(MediaFixtures.avcRecord))
    let h265 = try! AVStream.h265(index: 0, timebase: 1000, hvcRecord: hexBuffer(MediaFixtures.hvcRecord))
    let aac = try! AVStream.aac(index: 1, timebase: 1000, sampleRate: 44_100, channels: 2)
    let startCode: [UInt8] = [0, 0, 0, 1]

    func video(_ nals: [[UInt8]], dts: Int64, pts: Int64? = nil, key: Bool, codec: CodecID = .h264) -> AVPacket {
        AVPacket(streamIndex: 0, codec: codec, dts: dts, pts: pts ?? dts, isKeyFrame: key,
                 payload: AnnexB.lengthPrefixed(nals.map { ByteBuffer(bytes: $0) }))
    }

    func audio(_ bytes: Int, dts: Int64) -> AVPacket {
        AVPacket(streamIndex: 1, codec: .aac, dts: dts, pts: dts, isKeyFrame: true, payload: patternBuffer(bytes, seed: 7))
    }

    @Test func crcIsMPEG2() {
        let check = Array("123456789".utf8).withUnsafeBytes { MPEG2Systems.crc32($0) }
        #expect(check == 0x0376_E6E7)
        let data = pattern(1000)
        #expect(data.withUnsafeBytes { MPEG2Systems.crc32($0) } == data.withUnsafeBytes { MPEG2CRC32Check.checksum($0) })
    }

    @Test func headerIsPATAndPMT() {
        let muxer = TSMuxer()
        var out = ByteBuffer()
        muxer.writeHeader(streams: [h264, aac], into: &out)
        #expect(out.readableBytes == 376)
        let r = TSReader(out)
        #expect(r.problems.isEmpty, "\(r.problems)")
        #expect(r.pats == 1 && r.pcrPID == 0x100)
        #expect(r.pmt.map(\.type) == [0x1B, 0x0F] && r.pmt.map(\.pid) == [0x100, 0x101])

        var hevc = ByteBuffer()
        TSMuxer().writeHeader(streams: [h265], into: &hevc)
        #expect(TSReader(hevc).pmt.map(\.type) == [0x24])
    }

    /// Audio-only: the PCR rides on audio; G.711 (which browsers cannot play in HLS) is left out.
    @Test func pcrOnAudioWithoutVideoAndG711LeftOut() {
        let muxer = TSMuxer()
        var out = ByteBuffer()
        muxer.writeHeader(streams: [.g711(.g711a, index: 0, timebase: 8000), aac], into: &out)
        muxer.mux(audio(300, dts: 0), stream: aac, into: &out)
        muxer.mux(AVPacket(streamIndex: 0, codec: .g711a, dts: 0, pts: 0, isKeyFrame: true, payload: patternBuffer(160)),
                  stream: .g711(.g711a, index: 0, timebase: 8000), into: &out)
        let r = TSReader(out)
        #expect(r.problems.isEmpty, "\(r.problems)")
        #expect(r.pmt.map(\.pid) == [0x101] && r.pcrPID == 0x101)
        #expect(r.pes.count == 1 && r.pes[0].pcr != nil)
    }

    /// Every size of the last packet's remainder (0...183 bytes, so 0, 1 and more bytes of
    /// stuffing) keeps packets aligned, counters continuous and the PES bytes intact.
    @Test func everyRemainderStaysAlignedAndContinuous() throws {
        let muxer = TSMuxer()
        var out = ByteBuffer()
        muxer.writeHeader(streams: [h264, aac], into: &out)
        let sizes = Array(1...400)
        for (i, n) in sizes.enumerated() {
            muxer.mux(audio(n, dts: Int64(i) * 23), stream: aac, into: &out)
            muxer.mux(video([[0x41] + pattern(n * 3, seed: UInt8(truncatingIfNeeded: i))], dts: Int64(i) * 40, key: false),
                      stream: h264, into: &out)
        }
        let r = TSReader(out)
        #expect(r.problems.isEmpty, "\(r.problems.prefix(5))")
        let audioPES = r.pes.filter { $0.pid == 0x101 }
        let videoPES = r.pes.filter { $0.pid == 0x100 }
        try #require(audioPES.count == sizes.count && videoPES.count == sizes.count)
        for (i, n) in sizes.enumerated() {
            let a = audioPES[i].data
            #expect(a.count == 7 + n && Array(a.dropFirst(7)) == pattern(n, seed: 7))
            let adts = try AAC.ADTSHeader(parsing: ByteBuffer(bytes: a))
            #expect(adts.frameLength == 7 + n && adts.sampleRate == 44_100 && adts.channelConfiguration == 2)
            let v = videoPES[i].data
            #expect(v == startCode + [0x09, 0xF0] + startCode + [0x41] + pattern(n * 3, seed: UInt8(truncatingIfNeeded: i)))
        }
    }

    @Test func timestampsDecodeBack() throws {
        let muxer = TSMuxer()
        var out = ByteBuffer()
        muxer.writeHeader(streams: [h264, aac], into: &out)
        // ms → 90 kHz; one time past 2^33 ticks (26.5 h) wraps as 33-bit fields do.
        let wrap = Int64(1) << 33 / 90 + 5
        let cases: [(dts: Int64, pts: Int64)] = [(0, 80), (40, 40), (1234, 1334), (wrap, wrap + 40)]
        for c in cases {
            muxer.mux(video([[0x65] + pattern(500)], dts: c.dts, pts: c.pts, key: true), stream: h264, into: &out)
            muxer.mux(audio(200, dts: c.dts), stream: aac, into: &out)
        }
        let r = TSReader(out)
        #expect(r.problems.isEmpty, "\(r.problems)")
        let v = r.pes.filter { $0.pid == 0x100 }, a = r.pes.filter { $0.pid == 0x101 }
        try #require(v.count == cases.count && a.count == cases.count)
        for (i, c) in cases.enumerated() {
            let dts = UInt64(c.dts * 90) & 0x1_FFFF_FFFF, pts = UInt64(c.pts * 90) & 0x1_FFFF_FFFF
            #expect(v[i].pts == pts)
            #expect(v[i].dts == (c.pts == c.dts ? nil : dts))
            #expect(a[i].pts == dts && a[i].dts == nil)
            #expect(v[i].randomAccess && v[i].streamID == 0xE0 && a[i].streamID == 0xC0)
            #expect(v[i].pcr == UInt64(max(0, c.dts * 90 - 9000)) & 0x1_FFFF_FFFF)
        }
        #expect(r.pats == 1 + cases.count, "PAT/PMT before every key frame")
    }

    /// Parameter sets go before a key frame that lacks them, never twice; the AU's own
    /// delimiters give way to the one the muxer writes.
    @Test func parameterSetsAndDelimiters() throws {
        let muxer = TSMuxer()
        var out = ByteBuffer()
        muxer.writeHeader(streams: [h264], into: &out)
        let sps = hexBytes(MediaFixtures.avcSPS), pps = hexBytes(MediaFixtures.avcPPS)
        let idr: [UInt8] = [0x65] + pattern(300)
        muxer.mux(video([[0x09, 0xF0], idr], dts: 0, key: true), stream: h264, into: &out)
        muxer.mux(video([sps, pps, idr], dts: 40, key: true), stream: h264, into: &out)
        muxer.mux(video([[0x41, 1, 2, 3]], dts: 80, key: false), stream: h264, into: &out)
        let r = TSReader(out)
        #expect(r.problems.isEmpty, "\(r.problems)")
        try #require(r.pes.count == 3)
        let aud = startCode + [0x09, 0xF0]
        #expect(r.pes[0].data == aud + startCode + sps + startCode + pps + startCode + idr)
        #expect(r.pes[1].data == aud + startCode + sps + startCode + pps + startCode + idr)
        #expect(r.pes[2].data == aud + startCode + [0x41, 1, 2, 3] && !r.pes[2].randomAccess)

        let hevcMuxer = TSMuxer()
        var hevcOut = ByteBuffer()
        hevcMuxer.writeHeader(streams: [h265], into: &hevcOut)
        let irap: [UInt8] = [0x26, 0x01] + pattern(100)
        hevcMuxer.mux(video([[0x46, 0x01, 0x50], irap], dts: 0, key: true, codec: .h265), stream: h265, into: &hevcOut)
        let h = TSReader(hevcOut)
        #expect(h.problems.isEmpty, "\(h.problems)")
        let sets = [MediaFixtures.hvcVPS, MediaFixtures.hvcSPS, MediaFixtures.hvcPPS].flatMap { startCode + hexBytes($0) }
        #expect(h.pes.first?.data == startCode + [0x46, 0x01, 0x50] + sets + startCode + irap)
    }

    /// A track that comes later changes the PMT (new version) right away.
    @Test func configChangeRewritesTables() {
        let muxer = TSMuxer()
        var out = ByteBuffer()
        muxer.writeHeader(streams: [h264], into: &out)
        muxer.configChanged(aac, streams: [h264, aac], into: &out)
        let r = TSReader(out)
        #expect(r.problems.isEmpty && r.pats == 2)
        #expect(r.pmt.map(\.pid) == [0x100, 0x101] && r.pmtVersion == 1)
    }

    /// What a publisher controls never traps: NAL lengths past the payload, truncated prefixes,
    /// empty frames, timestamps at the extremes, bad timebases, frames ADTS cannot express.
    @Test func hostilePacketsNeverTrap() {
        let muxer = TSMuxer()
        var out = ByteBuffer()
        muxer.writeHeader(streams: [h264, aac], into: &out)
        var bad = ByteBuffer()
        bad.writeInteger(UInt32(1000))
        bad.writeBytes([0x65, 1, 2])
        let truncated = ByteBuffer(bytes: [0, 0, 3, 0x65, 1, 2, 0, 0])
        for payload in [bad, truncated, ByteBuffer(), ByteBuffer(bytes: [0, 0, 0, 0])] {
            muxer.mux(AVPacket(streamIndex: 0, codec: .h264, dts: 0, pts: 0, isKeyFrame: true, payload: payload), stream: h264, into: &out)
        }
        #expect(muxer.droppedFrames == 4)
        muxer.mux(audio(8185, dts: 0), stream: aac, into: &out)  // 7 + 8185 > 8191
        #expect(muxer.droppedFrames == 5)
        let extremes: [Int64] = [.max, .min, -1, 1 << 62]
        for t in extremes {
            for tb in [1, 0, -5, 90_000, Int.max] {
                var s = h264
                s.timebase = tb
                muxer.mux(video([[0x65] + pattern(200)], dts: t, pts: t == .min ? .max : t, key: true), stream: s, into: &out)
                var sa = aac
                sa.timebase = tb
                muxer.mux(audio(100, dts: t), stream: sa, into: &out)
            }
        }
        muxer.mux(AVPacket(streamIndex: 9, codec: .h264, dts: 0, pts: 0, isKeyFrame: true, payload: patternBuffer(10)), stream: h264, into: &out)
        #expect(muxer.droppedFrames == 5)
        let r = TSReader(out)
        #expect(r.problems.isEmpty, "\(r.problems.prefix(5))")
        #expect(r.pes.count == 2 * extremes.count * 5)
    }
}
