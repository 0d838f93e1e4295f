import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import RelayCore

/// `MediaClock`: whatever times a peer sends, outputs are monotonic, in range and continue
/// across jumps; `rescaled` never traps.
@Suite struct MediaClockTests {
    @Test func followsAnOrdinaryStream() {
        var clock = MediaClock(timebase: 1000, maxJumpMs: 10_000, startOut: 500)
        var out: [Int64] = []
        for t: Int64 in [500, 540, 580, 620] { out.append(clock.map(dts: t, pts: t + 80).dts) }
        #expect(out == [500, 540, 580, 620])
        #expect(clock.map(dts: 660, pts: 740).pts == 740)
        #expect(clock.discontinuities == 0)
    }

    @Test func aJumpEitherWayContinuesOneStepOn() {
        var clock = MediaClock(timebase: 1000, maxJumpMs: 10_000)
        _ = clock.map(dts: 0, pts: 0)
        _ = clock.map(dts: 40, pts: 40)
        let forward = clock.map(dts: 3_600_000, pts: 3_600_000)
        #expect(forward.dts == 80 && forward.discontinuity)
        #expect(clock.map(dts: 3_600_040, pts: 3_600_040).dts == 120)
        let back = clock.map(dts: 5, pts: 5)
        #expect(back.dts == 160 && back.discontinuity)
        #expect(clock.discontinuities == 2)
    }

    @Test func aSmallStepBackIsHeldNotFollowed() {
        var clock = MediaClock(timebase: 1000, maxJumpMs: 10_000, startOut: 1000)
        _ = clock.map(dts: 1000, pts: 1000)
        let back = clock.map(dts: 990, pts: 990)
        #expect(back.dts == 1000 && !back.discontinuity)
        #expect(clock.map(dts: 1030, pts: 1030).dts == 1040)
    }

    /// Defect 2 of the hardening issue: RTMP timestamps alternating 0x80000001 and 0, unwrapped
    /// by adding 2^32 each time, on a 16,777,215 Hz track.
    @Test func hostileTimesStayMonotonicAndInRange() {
        var clock = MediaClock(timebase: 16_777_215, maxJumpMs: 10_000)
        var epoch: Int64 = 0
        var last: Int64 = -1
        for i in 0..<400_000 {
            let raw: Int64 = i.isMultiple(of: 2) ? 0x8000_0001 : 0
            if raw == 0 { epoch &+= 1 << 32 }
            let input = (epoch &+ raw).rescaled(from: 1000, to: 16_777_215)
            let out = clock.map(dts: input, pts: input &+ Int64.max / 2)
            #expect(out.dts >= last)
            last = out.dts
            // What the RTP muxer does with it must stay in range.
            _ = out.pts.rescaled(from: 16_777_215, to: 90_000)
        }
        #expect(last < Int64(1) << 40)
        for input in [Int64.max, Int64.min, 0, Int64.max, -1] { #expect(clock.map(dts: input, pts: input).dts >= last) }
    }

    @Test func rescaleSaturatesInsteadOfTrapping() {
        #expect(Int64.max.rescaled(from: 1000, to: 90_000) == .max)
        #expect(Int64.min.rescaled(from: 1000, to: 90_000) == .min)
        #expect(Int64(1234).rescaled(from: 0, to: 90_000) == 0)
        #expect(Int64(90_000).rescaled(from: 90_000, to: 1000) == 1000)
        #expect(Int64(-1000).rescaled(from: 1000, to: 8000) == -8000)
    }
}

/// Caches count what they allocate, not payload bytes: a flood of tiny packets at one timestamp
/// (defect 7) is bounded.
@Suite struct MemoryAccountingTests {
    let loop = EmbeddedEventLoop()
    /// Sources are actors on their loop: a real one.
    let sourceLoop = MultiThreadedEventLoopGroup.singleton.next()

    @Test func gopCacheCountsEachPacketsOverhead() {
        var cache = GOPCache(enabled: true, maxBytes: 1 << 20, maxMs: 10_000)
        cache.add(v(0, key: true), ms: 0, hasVideo: true)
        for _ in 0..<100_000 { cache.add(a(0), ms: 0, hasVideo: true) }
        // 100 000 packets of 160 bytes at one timestamp: far over 1 MiB as allocated.
        #expect(cache.packets.count < 1 << 20 / MemoryCost.packetOverhead)
        #expect(cache.bytes <= 1 << 20)
    }

    @Test func aSmallSliceOfALargeBufferIsCompactedBeforeCaching() {
        var big = ByteBuffer(repeating: 7, count: 64 << 10)
        let slice = big.readSlice(length: 1)!
        var cache = GOPCache(enabled: true, maxBytes: 1 << 20, maxMs: 10_000)
        cache.add(AVPacket(streamIndex: 0, codec: .h264, dts: 0, pts: 0, isKeyFrame: true, payload: slice), ms: 0, hasVideo: true)
        #expect(cache.packets[0].payload.storageCapacity < 1024)
        #expect(cache.bytes < 1024)
    }

    @Test func oneByteSegmentsAreSizedForWhatTheyHold() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 0),
                             maxGOPBytes: 1 << 20)
        ts.add(RecordingSink(id: 1, loop: loop))
        ts.write(v(0, key: true, size: 100_000), stream: video)
        for i in 0..<1000 { ts.write(a(Int64(i)), stream: audio) }
        // Each 1-byte segment costs its own small storage, not the capacity of the last video
        // frame (128 KiB each before: 131 MB here).
        #expect(ts.gopBytes < 1000 * 1024 + 200_000)
        #expect(ts.gopBytes > 1000 * MemoryCost.segmentOverhead)
    }

    @Test func tinySegmentFloodIsBoundedByTheTransStreamLimit() {
        let ts = TransStream(kind: .flv, muxer: MarkerMuxer(), streams: [video, audio], merge: .fixed(ms: 0),
                             maxGOPBytes: 256 << 10)
        ts.add(RecordingSink(id: 1, loop: loop))
        ts.write(v(0, key: true), stream: video)
        for _ in 0..<50_000 { ts.write(a(0), stream: audio) }
        #expect(ts.gopBytes <= 256 << 10)
    }

    @Test func anExhaustedBudgetRefusesPublishers() throws {
        let budget = MemoryBudget(limit: 1000)
        let registry = StreamRegistry(memory: budget)
        budget.add(2000)
        let context = RelayContext(config: .default, muxers: [], logger: .init(label: "t"))
        let source = Source(id: "live/a", eventLoop: sourceLoop, publisher: SessionInfo(sessionID: "1", protocolName: "rtmp",
                                                                                remoteAddress: "x", params: [:]), context: context)
        #expect(throws: StreamRegistry.PublishError.self) { try registry.register(source) }
        budget.add(-2000)
        #expect(!budget.isExhausted)
        try registry.register(source)
    }

    @Test func theRegistryRefusesAnInvalidStreamID() {
        let registry = StreamRegistry()
        let context = RelayContext(config: .default, muxers: [], logger: .init(label: "t"))
        for bad in ["../etc/passwd", "live/../x", "", "live/a b", String(repeating: "a", count: 300)] {
            let source = Source(id: bad, eventLoop: sourceLoop, publisher: SessionInfo(sessionID: "1", protocolName: "rtmp",
                                                                               remoteAddress: "x", params: [:]), context: context)
            #expect(throws: StreamRegistry.PublishError.self) { try registry.register(source) }
        }
    }
}

/// `reject_duplicate_publish` off lets a newcomer take over its own protocol's stream; another
/// protocol's publisher only with `cross_protocol_takeover`.
@Suite struct TakeoverPolicyTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    func registered(_ protocolName: String, in registry: StreamRegistry, context: RelayContext) throws -> Source {
        let source = Source(id: "13912345678/1", eventLoop: loop,
                            publisher: SessionInfo(sessionID: "1", protocolName: protocolName, remoteAddress: "10.0.0.9:5000"),
                            context: context)
        try registry.register(source)
        return source
    }

    @Test func onlyTheHoldersProtocolTakesOverUnlessAllowed() throws {
        let context = RelayContext(config: .default, muxers: [], logger: .init(label: "t"))
        let registry = StreamRegistry()
        let held = try registered("jt1078", in: registry, context: context)
        var policy = RelayConfig.default.source
        #expect(registry.takeoverCandidate(held.id, protocolName: "jt1078", policy: policy) == nil, "rejecting by default")
        policy.rejectDuplicatePublish = false
        #expect(registry.takeoverCandidate(held.id, protocolName: "jt1078", policy: policy) === held)
        #expect(registry.takeoverCandidate(held.id, protocolName: "rtmp", policy: policy) == nil)
        policy.crossProtocolTakeover = true
        #expect(registry.takeoverCandidate(held.id, protocolName: "rtmp", policy: policy) === held)
    }

    @Test func theConflictNamesTheHolder() throws {
        let context = RelayContext(config: .default, muxers: [], logger: .init(label: "t"))
        let registry = StreamRegistry()
        _ = try registered("jt1078", in: registry, context: context)
        do {
            _ = try registered("rtmp", in: registry, context: context)
            Issue.record("a second publisher was registered")
        } catch {
            #expect("\(error)".contains("jt1078 10.0.0.9:5000"))
        }
    }
}
