import NIOCore
import NIOEmbedded
import Testing
@testable import RelayCore

/// A player that only counts (`receivesSegments` false, as an HLS session) gets its start and the
/// source's end, never a segment; players beside it get every segment.
@Suite struct CountedSinkTests {
    final class CountingSink: MediaSink, @unchecked Sendable {
        let id: SinkID
        let eventLoop: any EventLoop
        var started = false, delivered = 0, ended = false
        init(id: SinkID, loop: any EventLoop) { self.id = id; eventLoop = loop }
        func start(_ startup: StartupBytes) { started = true }
        func deliver(_ segment: Segment) { delivered += 1 }
        func sourceEnded() { ended = true }
        var receivesSegments: Bool { false }
    }

    @Test func aCountedPlayerGetsStartAndEndButNoSegments() {
        let loop = EmbeddedEventLoop()
        let ts = TransStream(kind: .hlsTS, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 0), maxGOPBytes: 1 << 20)
        let counted = CountingSink(id: 1, loop: loop)
        let player = RecordingSink(id: 2, loop: loop)
        ts.add(counted)
        ts.add(player)
        #expect(ts.sinkCount == 2)
        for p in [v(0, key: true), a(10), v(40)] { ts.write(p, stream: p.streamIndex == 0 ? video : audio) }
        #expect(counted.started && counted.delivered == 0)
        #expect(player.segments.count == 3)
        ts.remove(player)
        ts.end()
        #expect(counted.ended && !player.ended, "the one removed is not ended")
    }
}
