import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import RelayCore

@Suite struct MergeWritePolicyTests {
    @Test func adaptiveWindowFollowsThePlayerCountUpToTheCeiling() {
        let policy = MergeWritePolicy.adaptive(maxMs: 350, writesPerSecond: 1000)
        // A window under 20 ms saves little and still delays a frame: none at all.
        #expect(policy.windowMs(players: 0) == 0)
        #expect(policy.windowMs(players: 1) == 0)
        #expect(policy.windowMs(players: 19) == 0)
        #expect(policy.windowMs(players: 20) == 20)
        #expect(policy.windowMs(players: 100) == 100)
        #expect(policy.windowMs(players: 350) == 350)
        #expect(policy.windowMs(players: 500) == 350)
        #expect(policy.windowMs(players: Int.max) == 350)
        #expect(MergeWritePolicy.adaptive(maxMs: 350, writesPerSecond: 5000).windowMs(players: 500) == 100)
    }

    @Test func fixedWindowIgnoresThePlayerCount() {
        #expect(MergeWritePolicy.fixed(ms: 0).windowMs(players: 5000) == 0)
        #expect(MergeWritePolicy.fixed(ms: 350).windowMs(players: 1) == 350)
    }

    @Test func theDefaultIsAdaptive() throws {
        #expect(RelayConfig.default.source.mergeWrite == .default)
        let auto = try RelayConfig.parse(Data(#"{"source": {"merge_write_ms": "auto", "merge_write_max_ms": 500, "merge_write_budget": 2000}}"#.utf8), sections: [])
        #expect(auto.source.mergeWrite == .adaptive(maxMs: 500, writesPerSecond: 2000))
        let fixed = try RelayConfig.parse(Data(#"{"source": {"merge_write_ms": 350}}"#.utf8), sections: [])
        #expect(fixed.source.mergeWrite == .fixed(ms: 350))
        for bad in [#""soon""#, "-1", "2001", "1.5", "true"] {
            #expect(throws: ConfigError.self) {
                try RelayConfig.parse(Data(#"{"source": {"merge_write_ms": \#(bad)}}"#.utf8), sections: [])
            }
        }
    }
}

/// A TransStream under the adaptive policy: a lone player gets every packet at once, a crowd gets
/// merged segments, and the window closes again when the crowd leaves.
@Suite struct AdaptiveMergeTests {
    let loop = EmbeddedEventLoop()

    func sinks(_ n: Int) -> [RecordingSink] {
        (0..<n).map { RecordingSink(id: SinkID($0 + 1), loop: loop) }
    }

    /// 25 fps video with audio between the frames, from `from` ms for `frames` frames.
    func play(_ ts: TransStream, from: Int64, frames: Int64) {
        for i in 0..<frames {
            let ms = from + i * 40
            ts.write(v(ms, key: ms % 2000 == 0), stream: video)
            ts.write(a(ms + 20), stream: audio)
        }
    }

    @Test func aLonePlayerGetsEveryPacketAsItsOwnSegment() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .default, maxGOPBytes: 1 << 20)
        let player = RecordingSink(id: 1, loop: loop)
        ts.add(player)
        play(ts, from: 0, frames: 5)
        #expect(ts.mergeWindowMs == 0)
        #expect(player.segments == ["K*", "A", "P", "A", "P", "A", "P", "A", "P", "A"])
    }

    @Test func aCrowdGetsSegmentsAsLongAsItsWindowAndALeavingCrowdClosesIt() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .default, maxGOPBytes: 1 << 20)
        let crowd = sinks(200)
        for sink in crowd { ts.add(sink) }
        #expect(ts.mergeWindowMs == 200)
        play(ts, from: 0, frames: 12)  // 0 … 460 ms: one segment of 0–160 ms (5 frames) … cut at 200
        let first = crowd[0].segments
        #expect(first.first == "KAPAPAPAPA*", "\(first)")
        #expect(crowd.allSatisfy { $0.segments == first })
        // All but one leave: the open segment is cut at once, then every packet is its own.
        for sink in crowd.dropFirst() { ts.remove(sink) }
        #expect(ts.mergeWindowMs == 0)
        let before = crowd[0].segments.count
        #expect(crowd[0].segments.last == "PAPA", "\(crowd[0].segments)")  // 400 and 440 ms, no longer held
        play(ts, from: 480, frames: 1)
        #expect(Array(crowd[0].segments.dropFirst(before)) == ["P", "A"])
    }
}
