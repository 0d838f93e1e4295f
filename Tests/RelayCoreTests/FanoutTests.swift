import NIOCore
import NIOEmbedded
import Testing
@testable import RelayCore

/// A muxer that writes one marker byte per packet: K (video key), P (video), A (audio),
/// so segment contents can be read back as text.
final class MarkerMuxer: Muxer {
    func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) { buffer.writeString("H\(streams.count)") }
    func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) { buffer.writeString("C") }
    func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
        buffer.writeString(packet.isVideo ? (packet.isKeyFrame ? "K" : "P") : "A")
    }
}

final class RecordingSink: MediaSink, @unchecked Sendable {
    let id: SinkID
    let eventLoop: any EventLoop
    var startup: StartupBytes?
    var segments: [String] = []
    var ended = false
    init(id: SinkID, loop: any EventLoop) { self.id = id; self.eventLoop = loop }
    func start(_ startup: StartupBytes) { self.startup = startup }
    func deliver(_ segment: Segment) { segments.append(String(buffer: segment.bytes) + (segment.startsWithKeyFrame ? "*" : "")) }
    func sourceEnded() { ended = true }
}

let video = AVStream(index: 0, codec: .h264, timebase: 1000, extradata: ByteBuffer(bytes: [1]))
let audio = AVStream(index: 1, codec: .g711a, timebase: 8000, audio: AudioParameters(sampleRate: 8000, channels: 1))

func v(_ ms: Int64, key: Bool = false, size: Int = 1) -> AVPacket {
    AVPacket(streamIndex: 0, codec: .h264, dts: ms, pts: ms, isKeyFrame: key, payload: ByteBuffer(repeating: 0, count: size))
}

func a(_ ms: Int64) -> AVPacket {
    AVPacket(streamIndex: 1, codec: .g711a, dts: ms * 8, pts: ms * 8, isKeyFrame: true, payload: ByteBuffer(repeating: 0, count: 160))
}

@Suite struct SegmentCuttingTests {
    let loop = EmbeddedEventLoop()

    func trans(merge: Int, maxGOP: Int = 1 << 20) -> TransStream {
        TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: merge), maxGOPBytes: maxGOP)
    }

    func write(_ ts: TransStream, _ packets: [AVPacket]) {
        for p in packets { ts.write(p, stream: p.streamIndex == 0 ? video : audio) }
    }

    @Test func mergeOffWritesEveryPacketAsItsOwnSegment() {
        let ts = trans(merge: 0)
        let sink = RecordingSink(id: 1, loop: loop)
        ts.add(sink)
        write(ts, [v(0, key: true), a(10), v(40), a(30), v(80, key: true)])
        #expect(sink.segments == ["K*", "A", "P", "A", "K*"])
    }

    @Test func mergeWindowCutsBySpanAndBeforeEveryKeyFrame() {
        let ts = trans(merge: 100)
        let sink = RecordingSink(id: 1, loop: loop)
        ts.add(sink)
        // 40 ms video: K P P | P P P(… span ≥ 100 cuts) | key frame cuts early.
        write(ts, [v(0, key: true), v(40), v(80), v(120), v(160), v(200), v(240, key: true), v(280)])
        #expect(sink.segments == ["KPP*", "PPP"])
        ts.end()
        #expect(sink.segments == ["KPP*", "PPP", "KP*"])
        #expect(sink.ended)
    }

    @Test func newPlayerGetsHeaderAndSegmentsSinceTheLastKeyFrame() {
        let ts = trans(merge: 0)
        write(ts, [v(0, key: true), v(40), v(80, key: true), a(90), v(120)])
        let late = RecordingSink(id: 2, loop: loop)
        ts.add(late)
        #expect(String(buffer: late.startup!.header) == "H2")
        #expect(late.startup!.segments.map { String(buffer: $0.bytes) } == ["K", "A", "P"])
        #expect(late.startup!.segments.first?.startsWithKeyFrame == true)
        write(ts, [v(160)])
        #expect(late.segments == ["P"])
    }

    @Test func flushAfterPrimingGivesTheFirstPlayerTheOpenSegment() {
        // A TransStream primed from a GOP cache that holds less than one merge window: without the
        // flush the key frame would sit in the open segment and the first player would wait for it.
        let ts = trans(merge: 350)
        write(ts, [v(0, key: true), a(10), v(40), v(80)])
        ts.flush()
        let first = RecordingSink(id: 3, loop: loop)
        ts.add(first)
        #expect(first.startup!.segments.map { String(buffer: $0.bytes) } == ["KAPP"])
        #expect(first.startup!.segments.first?.startsWithKeyFrame == true)
        write(ts, [v(120), v(160), v(480)])
        #expect(first.segments == ["PP"])
    }

    @Test func configChangeReachesCurrentPlayersAndTheHeader() {
        let ts = trans(merge: 0)
        let sink = RecordingSink(id: 1, loop: loop)
        ts.add(sink)
        write(ts, [v(0, key: true)])
        ts.configChanged(video, streams: [video])
        write(ts, [v(40, key: true)])
        #expect(sink.segments == ["K*", "C", "K*"])
        let late = RecordingSink(id: 2, loop: loop)
        ts.add(late)
        #expect(String(buffer: late.startup!.header) == "H1")
    }

    @Test func aGOPLargerThanTheBoundIsNotKept() {
        // One 1-byte segment costs a few hundred bytes as allocated (MemoryCost): one fits, four do not.
        let ts = trans(merge: 0, maxGOP: 500)
        write(ts, [v(0, key: true), v(40), v(80), v(120)])
        let late = RecordingSink(id: 2, loop: loop)
        ts.add(late)
        #expect(late.startup!.segments.isEmpty, "players wait for the next key frame instead")
        write(ts, [v(160, key: true)])
        let later = RecordingSink(id: 3, loop: loop)
        ts.add(later)
        #expect(later.startup!.segments.count == 1)
    }

    @Test func removedPlayerGetsNothingMore() {
        let ts = trans(merge: 0)
        let sink = RecordingSink(id: 1, loop: loop)
        ts.add(sink)
        write(ts, [v(0, key: true)])
        ts.remove(sink)
        write(ts, [v(40)])
        #expect(sink.segments == ["K*"])
        #expect(ts.sinkCount == 0)
    }
}

@Suite struct GOPCacheTests {
    @Test func keepsPacketsFromTheLastKeyFrame() {
        var cache = GOPCache(enabled: true, maxBytes: 1 << 20, maxMs: 10_000)
        for p in [v(0, key: true), v(40), v(80, key: true), v(120)] { cache.add(p, ms: p.dts, hasVideo: true) }
        #expect(cache.packets.map(\.dts) == [80, 120])
    }

    @Test func dropsPacketsBeforeTheFirstKeyFrame() {
        var cache = GOPCache(enabled: true, maxBytes: 1 << 20, maxMs: 10_000)
        cache.add(v(0), ms: 0, hasVideo: true)
        #expect(cache.packets.isEmpty)
    }

    @Test func boundedByBytes() {
        var cache = GOPCache(enabled: true, maxBytes: 1000, maxMs: 10_000)
        cache.add(v(0, key: true, size: 600), ms: 0, hasVideo: true)
        cache.add(v(40, size: 600), ms: 40, hasVideo: true)
        #expect(cache.packets.isEmpty)
        #expect(cache.bytes == 0)
        cache.add(v(80, size: 600), ms: 80, hasVideo: true)
        #expect(cache.packets.isEmpty, "still waiting for a key frame")
    }

    @Test func boundedByDuration() {
        var cache = GOPCache(enabled: true, maxBytes: 1 << 20, maxMs: 100)
        cache.add(v(0, key: true), ms: 0, hasVideo: true)
        cache.add(v(80), ms: 80, hasVideo: true)
        #expect(cache.packets.count == 2)
        cache.add(v(120), ms: 120, hasVideo: true)
        #expect(cache.packets.isEmpty)
    }

    @Test func audioOnlyKeepsTheLatestPacket() {
        var cache = GOPCache(enabled: true, maxBytes: 1 << 20, maxMs: 100)
        cache.add(a(0), ms: 0, hasVideo: false)
        cache.add(a(20), ms: 20, hasVideo: false)
        #expect(cache.packets.count == 1)
    }

    @Test func disabledKeepsNothing() {
        var cache = GOPCache(enabled: false, maxBytes: 1 << 20, maxMs: 100)
        cache.add(v(0, key: true), ms: 0, hasVideo: true)
        #expect(cache.packets.isEmpty)
    }
}

/// The merge window is measured on the video clock, so tracks whose times are offset (audio
/// 400 ms ahead here, as some cameras send) neither cut a key frame into a segment of its own
/// nor grow segments without bound.
@Suite struct OffsetTracksTests {
    let loop = EmbeddedEventLoop()

    @Test func audioAheadOfVideoDoesNotLeaveTheKeyFrameAlone() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 350), maxGOPBytes: 1 << 20)
        let sink = RecordingSink(id: 1, loop: loop)
        ts.add(sink)
        // 25 fps video from 0, audio every 40 ms stamped 400 ms ahead; key frames every 800 ms.
        for i in Int64(0)..<40 {
            ts.write(v(i * 40, key: i % 20 == 0), stream: video)
            ts.write(a(i * 40 + 400), stream: audio)
        }
        // Every segment holds both tracks; a key frame starts 350 ms of video (9 frames: 0…320).
        #expect(!sink.segments.isEmpty)
        for segment in sink.segments {
            #expect(segment.contains("A") && (segment.contains("K") || segment.contains("P")), "\(segment)")
        }
        #expect(sink.segments.first == "KA" + String(repeating: "PA", count: 8) + "*", "\(sink.segments)")
        // A player joining now gets a cached GOP that holds audio too (RTSP's PLAY needs a packet of each track).
        let late = RecordingSink(id: 2, loop: loop)
        ts.add(late)
        let cached = late.startup?.segments.map { String(buffer: $0.bytes) } ?? []
        #expect(cached.first?.hasPrefix("K") == true && cached.joined().contains("A"), "\(cached)")
    }

    @Test func aTrackMissingFromTheCachedGOPIsCutInAtOnce() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 350), maxGOPBytes: 1 << 20)
        // Primed with a key frame alone (the source's GOP was one packet old), then flushed.
        ts.write(v(0, key: true), stream: video)
        ts.flush()
        let sink = RecordingSink(id: 1, loop: loop)
        ts.add(sink)
        #expect(sink.startup?.segments.map { String(buffer: $0.bytes) } == ["K"])
        // The first audio packet goes out at once instead of after the window …
        ts.write(v(40), stream: video)
        ts.write(a(20), stream: audio)
        #expect(sink.segments == ["PA"])
        // … and a player joining now finds both tracks in the cached GOP; then merging resumes.
        let late = RecordingSink(id: 2, loop: loop)
        ts.add(late)
        #expect(late.startup?.segments.map { String(buffer: $0.bytes) } == ["K", "PA"])
        for i in Int64(2)..<12 {
            ts.write(v(i * 40), stream: video)
            ts.write(a(i * 40 - 20), stream: audio)
        }
        #expect(sink.segments == ["PA", "PAPAPAPAPAPAPAPAPA"], "\(sink.segments)")
    }

    @Test func audioAloneStillCutsWhenVideoStalls() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 100), maxGOPBytes: 1 << 20)
        let sink = RecordingSink(id: 1, loop: loop)
        ts.add(sink)
        ts.write(v(0, key: true), stream: video)
        // Video stops; audio goes on every 20 ms: segments are cut at twice the window of audio time.
        for i in Int64(0)..<25 { ts.write(a(i * 20), stream: audio) }
        #expect(sink.segments.count == 2, "\(sink.segments)")
        #expect(sink.segments.first == "K" + String(repeating: "A", count: 10) + "*", "\(sink.segments)")
    }
}
