import Logging
import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayMP4

/// Whatever times and payloads reach the muxer, it never traps and never writes a fragment a
/// player must reject (decode time going back, zero duration).
@Suite struct FMP4HostileInputTests {
    @Test func extremeTimestampsClampAndStayMonotonic() throws {
        let video = try FMP4Fixtures.h264(), audio = try FMP4Fixtures.aac()
        let times: [Int64] = [.max, .min, 0, -1, .max - 1, 1 << 62, -(1 << 62), 5, .min + 1, 40]
        var packets: [AVPacket] = []
        for (i, t) in times.enumerated() {
            packets.append(FMP4Fixtures.packet(video, dts: t, pts: times[(i + 1) % times.count], key: i == 0))
            packets.append(FMP4Fixtures.packet(audio, dts: t, pts: t == .min ? .max : t))
        }
        let (_, bytes) = FMP4Fixtures.mux([video, audio], packets)
        let fragments = try #require(ReadFragment.parseAll(bytes))
        #expect(fragments.count == packets.count)
        for track: UInt32 in [1, 2] {
            let times = fragments.filter { $0.trackID == track }.map(\.decodeTime)
            #expect(times == times.sorted(), "track \(track): \(times)")
        }
        #expect(fragments.allSatisfy { $0.duration >= 1 })
        // A video step larger than a second is not taken as a frame duration.
        #expect(fragments.filter { $0.trackID == 1 }.allSatisfy { $0.duration <= 90_000 })
    }

    @Test func oddTimebasesEmptyPayloadsAndUnknownTracksWriteNothingBad() throws {
        var video = try FMP4Fixtures.h264()
        video.timebase = 0
        let audio = try FMP4Fixtures.aac()
        let muxer = FMP4Muxer(framing: .none)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [video, audio], into: &out)
        out.clear()
        muxer.mux(AVPacket(streamIndex: 0, codec: .h264, dts: 5, pts: 5, isKeyFrame: true, payload: ByteBuffer()),
                  stream: video, into: &out)
        #expect(out.readableBytes == 0, "an empty payload is not a sample")
        muxer.mux(FMP4Fixtures.packet(video, dts: 7, key: true), stream: video, into: &out)
        muxer.mux(AVPacket(streamIndex: 9, codec: .aac, dts: 0, pts: 0, isKeyFrame: true, payload: patternBuffer(10)),
                  stream: audio, into: &out)
        muxer.mux(AVPacket(streamIndex: 0, codec: .h265, dts: 9, pts: 9, isKeyFrame: true, payload: patternBuffer(10)),
                  stream: video, into: &out)
        let fragments = try #require(ReadFragment.parseAll(out))
        #expect(fragments.count == 1 && fragments[0].decodeTime == 0)
    }

    @Test func muxingBeforeAnyHeaderWritesNothing() throws {
        let video = try FMP4Fixtures.h264()
        var out = ByteBuffer()
        FMP4Muxer(framing: .httpChunked).mux(FMP4Fixtures.packet(video, dts: 0, key: true), stream: video, into: &out)
        #expect(out.readableBytes == 0)
    }

    @Test func randomExtradataNeverTraps() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let codec = [CodecID.h264, .h265, .aac].randomElement(using: &rng) ?? .aac
            let junk = ByteBuffer(bytes: (0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let stream = AVStream(index: 0, codec: codec, timebase: Int.random(in: -5...100_000, using: &rng), extradata: junk,
                                  video: codec.isVideo ? VideoParameters(width: -7, height: 1 << 40, profile: 0, level: 0, sps: [junk], pps: [junk]) : nil,
                                  audio: codec.isAudio ? AudioParameters(sampleRate: Int.random(in: -1...1 << 30, using: &rng), channels: -3) : nil)
            var out = ByteBuffer()
            let muxer = FMP4Muxer(framing: .none, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            muxer.writeHeader(streams: [stream], into: &out)
            muxer.mux(FMP4Fixtures.packet(stream, dts: .random(in: .min ... .max, using: &rng)), stream: stream, into: &out)
            _ = MP4CodecString.rfc6381(stream)
            #expect(ReadBox.parse(out) != nil)
        }
    }
}
