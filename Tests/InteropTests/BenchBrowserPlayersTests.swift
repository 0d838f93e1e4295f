import Foundation
import NIOCore
import NIOPosix
import RelayCore
import RelayHLS
import RelayMP4
import RelayTestSupport
import Testing
@testable import RelayBenchKit

/// relay-bench's players of the browser outputs (HLS, HTTP fMP4, WS-FLV, WS-fMP4): their parsers
/// against our muxers' output split at random, and each player against the relay.
@Suite(.serialized)
struct BenchBrowserPlayersTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// Eight 40 ms video frames (a key frame every fourth) and eight AAC frames through `muxer`.
    static func muxed(_ muxer: some Muxer) throws -> ByteBuffer {
        let video = try AVStream.h264(index: 0, timebase: 1000, avcRecord: hexBuffer(MediaFixtures.avcRecord))
        let audio = try AVStream.aac(index: 1, timebase: 1000, sampleRate: 44_100, channels: 2)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [video, audio], into: &out)
        for i in 0..<8 {
            let key = i % 4 == 0
            let nal = ByteBuffer(bytes: [key ? 0x65 : 0x41] + pattern(300 + 97 * i))
            muxer.mux(AVPacket(streamIndex: 0, codec: .h264, dts: Int64(i) * 40, pts: Int64(i) * 40, isKeyFrame: key,
                               payload: AnnexB.lengthPrefixed([nal])), stream: video, into: &out)
            muxer.mux(AVPacket(streamIndex: 1, codec: .aac, dts: Int64(i) * 23, pts: Int64(i) * 23, isKeyFrame: true,
                               payload: patternBuffer(200)), stream: audio, into: &out)
        }
        return out
    }

    /// `bytes` in pieces of random sizes (1 byte to 1 kB), as reads deliver them.
    static func pieces(_ bytes: ByteBuffer) -> [ByteBuffer] {
        var rest = bytes
        var out: [ByteBuffer] = []
        while rest.readableBytes > 0, let piece = rest.readSlice(length: min(rest.readableBytes, Int.random(in: 1...1024))) {
            out.append(piece)
        }
        return out
    }

    @Test func countersSeeEveryFrameWhateverTheSplit() throws {
        let ts = try Self.muxed(TSMuxer())
        let mp4 = try Self.muxed(FMP4Muxer(framing: .none))
        for _ in 0..<20 {
            var tsCounter = HLSSegmentCounter()
            var mp4Counter = FMP4SampleCounter()
            var tsSamples: [FMP4SampleCounter.Sample] = [], mp4Samples: [FMP4SampleCounter.Sample] = []
            try tsCounter.startSegment()
            for piece in Self.pieces(ts) { try tsCounter.consume(piece) { tsSamples.append($0) } }
            for piece in Self.pieces(mp4) { try mp4Counter.consume(piece) { mp4Samples.append($0) } }
            for samples in [tsSamples, mp4Samples] {
                #expect(samples.filter(\.video).map(\.key) == [true, false, false, false, true, false, false, false])
                #expect(samples.filter { !$0.video }.count == 8)
            }
            #expect(mp4Counter.initSegments == 1 && mp4Counter.fragments == 16)
        }
        // A segment that is not whole transport packets is an error, not a count.
        var counter = HLSSegmentCounter()
        try counter.consume(ts.getSlice(at: ts.readerIndex, length: 200)!) { _ in }
        #expect(throws: HLSSegmentCounter.Failure.self) { try counter.startSegment() }
        var bad = HLSSegmentCounter()
        #expect(throws: HLSSegmentCounter.Failure.self) {
            try bad.consume(ByteBuffer(bytes: [0x47] + [UInt8](repeating: 0, count: 187) + [0x00] + [UInt8](repeating: 0, count: 187))) { _ in }
        }
    }

    @Test func playlistsAndURIs() {
        let multivariant = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4D401F\"\ns.m3u8?session=ab\n"
        #expect(HLSPlaylist(parsing: multivariant) == .multivariant(variants: ["s.m3u8?session=ab"]))
        let media = """
            #EXTM3U
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:41
            #EXT-X-MAP:URI="init.mp4?session=ab"
            #EXTINF:2.000,
            seg41.ts
            #EXT-X-PART:DURATION=0.25,URI="p.mp4"
            #EXTINF:1.960,
            /live/seg42.ts
            #EXT-X-ENDLIST
            """
        guard case .media(let m)? = HLSPlaylist(parsing: media) else { Issue.record("not a media playlist"); return }
        #expect(m.targetDuration == 2 && m.mediaSequence == 41 && m.ended && m.initSection == "init.mp4?session=ab")
        #expect(m.segments == [.init(sequence: 41, uri: "seg41.ts"), .init(sequence: 42, uri: "/live/seg42.ts")])
        #expect(HLSPlaylist(parsing: "<html>") == nil)
        #expect(HLSPlaylist.resolve("seg1.ts?s=1", against: "/live/s.m3u8?session=ab") == "/live/seg1.ts?s=1")
        #expect(HLSPlaylist.resolve("/a/b.ts", against: "/live/s.m3u8") == "/a/b.ts")
        #expect(HLSPlaylist.resolve("http://h:1/x/y.ts", against: "/live/s.m3u8") == "/x/y.ts")
    }

    /// Each player against the relay: frames from a key frame on, audio, no error.
    @Test func playersPlayTheRelaysBrowserOutputs() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/bench")
        defer { publisher.terminate() }
        let port = server.httpPort
        let players: [(String, any BenchPlayer)] = [
            ("hls", try await HLSPlayer.connect(host: "127.0.0.1", port: port, path: "/live/bench.m3u8", group: Self.group)),
            ("fmp4", try await FMP4Player.connect(host: "127.0.0.1", port: port, path: "/live/bench.mp4", group: Self.group)),
            ("ws-flv", try await WebSocketPlayer.connect(host: "127.0.0.1", port: port, path: "/live/bench.flv", payload: .flv,
                                                        group: Self.group)),
            ("ws-fmp4", try await WebSocketPlayer.connect(host: "127.0.0.1", port: port, path: "/live/bench.mp4", payload: .fmp4,
                                                         group: Self.group)),
        ]
        for (name, player) in players {
            let s = await player.wait(timeout: .seconds(15)) { $0.videoFrames >= 75 && $0.audioFrames > 0 }
            #expect(s.error == nil && !s.closed, "\(name): \(s.error ?? "closed")")
            #expect(s.videoFrames >= 75 && s.audioFrames > 0, "\(name): \(s.videoFrames) video, \(s.audioFrames) audio frames")
            #expect(s.firstVideoIsKey == true, "\(name)")
            #expect(s.status == (name.hasPrefix("ws") ? 101 : 200), "\(name): status \(String(describing: s.status))")
            await player.close()
        }
        await server.stop()
    }
}
