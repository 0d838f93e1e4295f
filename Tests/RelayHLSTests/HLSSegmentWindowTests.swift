import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayHLS

/// Segment and part cutting, and the playlist rules that follow from it, on the pure window.
@Suite struct HLSSegmentWindowTests {
    static func config(_ format: HLSFormat, segmentMs: Int = 2000, partMs: Int = 250, listed: Int = 6) -> HLSWindowConfig {
        var c = HLSConfig.defaults
        c.segmentMs = segmentMs
        c.partMs = partMs
        c.playlistSegments = listed
        return HLSWindowConfig(format: format, config: c)
    }

    /// One packet's bytes as the muxer of `format` would start them: TS key frames with PAT.
    static func packet(_ format: HLSFormat, ms: Int64?, key: Bool, size: Int = 100) -> Segment {
        var b = ByteBuffer()
        switch format {
        case .ts: b.writeBytes(key ? [0x47, 0x40, 0x00] : [0x47, 0x01, 0x00])
        case .fmp4:
            b.writeInteger(UInt32(8 + size))
            b.writeString("moof")
        }
        b.writeRepeatingByte(0xAB, count: size)
        return Segment(bytes: b, startsWithKeyFrame: key, pacingMs: ms)
    }

    static func initSegment() -> ByteBuffer {
        var b = ByteBuffer()
        for type in ["ftyp", "moov"] {
            b.writeInteger(UInt32(16))
            b.writeString(type)
            b.writeRepeatingByte(0, count: 8)
        }
        return b
    }

    /// Video at `fps` with a key frame every `gopMs`, and an audio packet after each frame.
    static func feed(_ w: inout HLSSegmentWindow, from: Int64, to: Int64, fps: Int64 = 25, gopMs: Int64 = 1000) {
        let step = 1000 / fps
        var ms = from
        while ms < to {
            _ = w.feed(packet(w.config.format, ms: ms, key: ms % gopMs == 0), nowMs: ms)
            _ = w.feed(packet(w.config.format, ms: nil, key: false, size: 20), nowMs: ms)
            ms += step
        }
    }

    static func render(_ w: HLSSegmentWindow) -> HLSMediaPlaylist {
        HLSMediaPlaylist(HLSPlaylist.media(w, uriPrefix: "x.hls/0123456789abcdef0123456789abcdef/"))
    }

    @Test func tsSegmentsAreCutBeforeKeyFramesOnceTheyReachTheTarget() {
        var w = HLSSegmentWindow(config: Self.config(.ts))
        w.start(header: ByteBuffer(bytes: [0x47, 0x40, 0x00]), segments: [], nowMs: 0)
        Self.feed(&w, from: 0, to: 9000, gopMs: 1000)
        // Key frames every second, target 2 s: segments of exactly 2 s, each starting with PAT.
        #expect(w.segments.map(\.durationMs) == [2000, 2000, 2000, 2000])
        #expect(w.segments.allSatisfy { $0.prefix == nil && $0.parts.count == 1 })
        #expect(w.open.msn == 4)
        let p = Self.render(w)
        #expect(p.violations.isEmpty, "\(p.violations)")
        #expect(p.version == 3 && p.targetDuration == 2 && p.preloadHint == nil && p.openParts.isEmpty)
    }

    @Test func aLongGOPRaisesTheTargetDurationAndItNeverComesDown() {
        var w = HLSSegmentWindow(config: Self.config(.ts))
        w.start(header: ByteBuffer(), segments: [], nowMs: 0)
        Self.feed(&w, from: 0, to: 8120, gopMs: 4000)
        #expect(w.segments.map(\.durationMs) == [4000, 4000])
        #expect(w.targetDurationS == 4)
        Self.feed(&w, from: 8120, to: 40_120, fps: 25, gopMs: 2000)
        #expect(w.targetDurationS == 4)
        #expect(Self.render(w).violations.isEmpty)
    }

    @Test func theMediaSequenceCountsTheSegmentsThatLeftThePlaylist() {
        var w = HLSSegmentWindow(config: Self.config(.ts, listed: 3))
        w.start(header: ByteBuffer(), segments: [], nowMs: 0)
        Self.feed(&w, from: 0, to: 4120)
        let before = Self.render(w)
        Self.feed(&w, from: 4120, to: 20_120)
        let after = Self.render(w)
        #expect(before.mediaSequence == 0 && before.segments.count == 2)
        #expect(after.segments.count == 3)
        #expect(after.mediaSequence == w.open.msn - 3)
        #expect(after.violations(after: before).isEmpty)
        // Segments that left the playlist stay fetchable a while (RFC 8216 6.2.2), not forever.
        #expect(w.segments.count == 7)
        #expect(w.segment(after.mediaSequence - 1) != nil && w.segment(0) == nil)
    }

    @Test func theCachedGOPBecomesSegmentZeroAtTheNextFrame() {
        var w = HLSSegmentWindow(config: Self.config(.fmp4))
        let gop = (0..<30).map { Self.packet(.fmp4, ms: Int64($0) * 40, key: $0 == 0) }
        w.start(header: Self.initSegment(), segments: gop, nowMs: 1200)
        #expect(w.segments.isEmpty && !w.isSatisfied(.anySegment))
        let changed = w.feed(Self.packet(.fmp4, ms: 1200, key: false), nowMs: 1200)
        #expect(changed)
        #expect(w.segments.first?.durationMs == 1200 && w.isSatisfied(.anySegment))
        #expect(w.segments.first?.parts.first?.independent == true)
        #expect(w.inits[0] != nil)
    }

    @Test func partsStayWithinThePartTargetAndMarkKeyFrames() {
        var w = HLSSegmentWindow(config: Self.config(.fmp4))
        w.start(header: Self.initSegment(), segments: [], nowMs: 0)
        Self.feed(&w, from: 0, to: 10_000, gopMs: 2000)
        let p = Self.render(w)
        #expect(p.violations.isEmpty, "\(p.violations)")
        #expect(p.version == 9 && p.partTarget == 0.25 && p.canBlockReload && p.partHoldBack == 0.75)
        for segment in w.segments {
            #expect(segment.parts.allSatisfy { $0.durationMs <= 250 })
            #expect(segment.parts.reduce(0) { $0 + $1.durationMs } == segment.durationMs)
            #expect(segment.parts.first?.independent == true)
            #expect(segment.parts.dropFirst().allSatisfy { !$0.independent })
        }
        // The hint names the next part of the open segment.
        #expect(p.preloadHint == "x.hls/0123456789abcdef0123456789abcdef/\(w.open.msn).\(w.open.parts.count).m4s")
        #expect(w.isNextPart(w.open.msn, w.open.parts.count) && !w.isSatisfied(.part(msn: w.open.msn, part: w.open.parts.count)))
    }

    @Test func audioOnlyIsCutByTime() {
        var w = HLSSegmentWindow(config: Self.config(.fmp4))
        w.start(header: Self.initSegment(), segments: [], nowMs: 0)
        var ms: Int64 = 0
        while ms < 7000 {
            _ = w.feed(Self.packet(.fmp4, ms: ms, key: true, size: 30), nowMs: ms)
            ms += 23
        }
        #expect(w.segments.count == 3)
        #expect(w.segments.allSatisfy { $0.durationMs >= 2000 && $0.durationMs < 2023 })
        #expect(w.segments.allSatisfy { $0.parts.allSatisfy { $0.durationMs <= 250 && $0.independent } })
        #expect(Self.render(w).violations.isEmpty)
    }

    @Test func aNewInitSegmentStartsADiscontinuityWithItsOwnMap() {
        var w = HLSSegmentWindow(config: Self.config(.fmp4, listed: 3))
        w.start(header: Self.initSegment(), segments: [], nowMs: 0)
        Self.feed(&w, from: 0, to: 4120)
        let before = Self.render(w)
        _ = w.feed(Segment(bytes: Self.initSegment(), startsWithKeyFrame: false), nowMs: 4120)
        Self.feed(&w, from: 4120, to: 8120)
        let mid = Self.render(w)
        #expect(w.inits[1] != nil)
        #expect(mid.segments.contains { $0.discontinuity && $0.map?.hasSuffix("init-1.mp4") == true })
        #expect(mid.violations.isEmpty && mid.violations(after: before).isEmpty)
        Self.feed(&w, from: 8120, to: 30_120)
        let after = Self.render(w)
        #expect(after.discontinuitySequence == 1)
        #expect(after.segments.allSatisfy { $0.map?.hasSuffix("init-1.mp4") == true })
        #expect(w.inits[0] == nil)
        #expect(after.violations(after: mid).isEmpty)
    }

    @Test func aStreamWithoutKeyFramesIsStillCutAndBounded() {
        var w = HLSSegmentWindow(config: Self.config(.ts))
        w.start(header: ByteBuffer(bytes: [0x47, 0x40, 0x00]), segments: [], nowMs: 0)
        _ = w.feed(Self.packet(.ts, ms: 0, key: true), nowMs: 0)
        Self.feed(&w, from: 40, to: 45_000, gopMs: 1_000_000)
        #expect(w.segments.map(\.durationMs) == [w.maxSpanMs, w.maxSpanMs])
        // A segment that does not start with a key frame gets PAT/PMT served before it.
        #expect(w.segments[0].prefix == nil && w.segments[1].prefix != nil)
        #expect(w.segments[1].buffers.count == 2)
    }

    @Test func blockingReloadsAskingTooFarAheadAreRefused() {
        var w = HLSSegmentWindow(config: Self.config(.fmp4))
        w.start(header: Self.initSegment(), segments: [], nowMs: 0)
        Self.feed(&w, from: 0, to: 4120)
        let last = w.lastCompletedMSN, open = w.open.msn
        #expect(w.acceptsReload(msn: last + 2, part: nil))
        #expect(!w.acceptsReload(msn: last + 3, part: nil))
        // Advance Part Limit: 3 / 0.25 s = 12 parts.
        #expect(w.acceptsReload(msn: open, part: w.open.parts.count + 11))
        #expect(!w.acceptsReload(msn: open, part: w.open.parts.count + 12))
        #expect(w.acceptsReload(msn: open + 1, part: 0))
        #expect(w.isSatisfied(.segment(last)) && !w.isSatisfied(.segment(open)))
        #expect(w.isSatisfied(.part(msn: open, part: 0)) == !w.open.parts.isEmpty)
        #expect(!w.acceptsReload(msn: Int.max, part: Int.max))
    }

    @Test func boxAndPacketHeadersAreReadWithoutTrapping() {
        var both = Self.initSegment()
        var moof = Self.packet(.fmp4, ms: 0, key: true).bytes
        both.writeBuffer(&moof)
        let (head, rest) = MP4Boxes.splitInitialization(both)
        #expect(head.readableBytes == 32 && rest.getString(at: rest.readerIndex + 4, length: 4) == "moof")
        let hostile = ByteBuffer(bytes: [0, 0, 0, 0, 0x66, 0x74, 0x79, 0x70, 0xFF, 0xFF, 0xFF, 0xFF, 0x6D, 0x6F])
        #expect(MP4Boxes.startsWithFileType(hostile))
        #expect(MP4Boxes.splitInitialization(hostile).0.readableBytes == hostile.readableBytes)
        #expect(!MPEGTSBytes.startsWithPAT(ByteBuffer(bytes: [0x47])))
        #expect(MPEGTSBytes.startsWithPAT(ByteBuffer(bytes: [0x47, 0x40, 0x00, 0x10])))
    }
}
