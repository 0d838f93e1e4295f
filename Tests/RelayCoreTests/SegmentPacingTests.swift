import NIOCore
import NIOEmbedded
import Testing
@testable import RelayCore

/// `Segment.pacingMs`: the media time outputs that cut by time (HLS) read from each segment.
@Suite struct SegmentPacingTests {
    let loop = EmbeddedEventLoop()

    final class TimingSink: MediaSink, @unchecked Sendable {
        let id: SinkID = 1
        let eventLoop: any EventLoop
        var timings: [Int64?] = []
        var startupTimings: [Int64?] = []
        init(loop: any EventLoop) { eventLoop = loop }
        func start(_ startup: StartupBytes) { startupTimings = startup.segments.map(\.pacingMs) }
        func deliver(_ segment: Segment) { timings.append(segment.pacingMs) }
        func sourceEnded() {}
    }

    func write(_ ts: TransStream, _ packets: [AVPacket]) {
        for p in packets { ts.write(p, stream: p.streamIndex == 0 ? video : audio) }
    }

    @Test func aSegmentPerPacketCarriesTheVideoTimeAndNoneForAudio() {
        let ts = TransStream(kind: .hlsTS, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 0), maxGOPBytes: 1 << 20)
        let sink = TimingSink(loop: loop)
        ts.add(sink)
        write(ts, [v(1000, key: true), a(1010), v(1040), a(1030)])
        #expect(sink.timings == [1000, nil, 1040, nil])
    }

    @Test func aMergedSegmentCarriesItsFirstVideoTimeAndTheCacheKeepsIt() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 100), maxGOPBytes: 1 << 20)
        let first = TimingSink(loop: loop)
        ts.add(first)
        write(ts, [a(-5), v(0, key: true), a(20), v(40), v(80), v(120), v(160, key: true)])
        // [A] alone before the key frame (no video: nil), [K A P P] cut by the window at 120,
        // [P] cut before the key frame at 160.
        #expect(first.timings == [nil, 0, 120])
        let late = TimingSink(loop: loop)
        ts.add(late)
        #expect(late.startupTimings == [0, 120], "the cached GOP keeps its segments' times (160 is still open)")
        ts.flush()
        #expect(first.timings == [nil, 0, 120, 160])
    }

    @Test func audioOnlyPacesOnAudio() {
        let ts = TransStream(kind: .hlsTS, muxer: MarkerMuxer(), streams: [audio], merge: .fixed(ms: 0), maxGOPBytes: 1 << 20)
        let sink = TimingSink(loop: loop)
        ts.add(sink)
        write(ts, [a(0), a(20)])
        #expect(sink.timings == [0, 20])
    }
}
