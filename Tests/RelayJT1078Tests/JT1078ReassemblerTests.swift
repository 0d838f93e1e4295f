import NIOCore
import Testing
@testable import RelayJT1078

@Suite struct JT1078ReassemblerTests {
    /// A frame's bytes cut into `n` pieces (the first starts with a start code, the others do not).
    static func pieces(_ frame: ByteBuffer, _ n: Int) -> [ByteBuffer] {
        let size = (frame.readableBytes + n - 1) / n
        return (0..<n).map { frame.getSlice(at: $0 * size, length: min(size, frame.readableBytes - $0 * size))! }
    }

    static func marks(_ n: Int) -> [JT1078Subpackage] {
        n == 1 ? [.atomic] : [.first] + Array(repeating: .middle, count: n - 2) + [.last]
    }

    /// atomic; first+last; first+middle…+last — each frame comes out whole, with its first timestamp.
    @Test(arguments: [1, 2, 3, 7])
    func everyCorrectMarkSequence(count: Int) {
        let frame1 = Fixtures.keyFrameH264(size: 4000)
        let frame2 = Fixtures.deltaFrameH264(size: 900)
        var packets: [JT1078Packet] = []
        for (piece, mark) in zip(Self.pieces(frame1, count), Self.marks(count)) {
            packets.append(packet(piece, type: .iFrame, mark: mark, ts: 1000))
        }
        for (piece, mark) in zip(Self.pieces(frame2, count), Self.marks(count)) {
            packets.append(packet(piece, mark: mark, ts: 1040))
        }
        // The second frame is held until the next package shows the marks are right.
        packets.append(packet(Fixtures.deltaFrameH264(size: 100), mark: .atomic, ts: 1080))
        let (events, r) = reassemble(packets)
        let frames = events.frames
        #expect(frames.count == 2)
        #expect(frames.first?.body == frame1 && frames.first?.packages == count && frames.first?.timestamp == 1000)
        #expect(frames.first?.dataType == .iFrame && frames.first?.unterminated == false)
        #expect(frames.last?.body == frame2 && frames.last?.timestamp == 1040)
        #expect(events.discontinuities == 0 && !events.sawMarksUnreliable)
        #expect(r.isHoldingFrame)
    }

    /// After three good end marks the marks are trusted: a frame goes out at its end mark.
    @Test func trustedMarksPassFramesOnAtOnce() {
        var r = JT1078Reassembler(video: true)
        var events: [JT1078Reassembler.Event] = []
        for i in 0..<4 {
            r.push(packet(Fixtures.deltaFrameH264(size: 200), mark: .atomic, ts: UInt64(i) * 40), into: &events)
        }
        #expect(r.marksTrusted == true)
        #expect(events.frames.count == 4, "the 4th atomic frame went out without waiting")
        let before = events.frames.count
        let big = Self.pieces(Fixtures.keyFrameH264(size: 2000), 3)
        r.push(packet(big[0], type: .iFrame, mark: .first, ts: 200), into: &events)
        r.push(packet(big[1], type: .iFrame, mark: .middle, ts: 200), into: &events)
        #expect(events.frames.count == before)
        r.push(packet(big[2], type: .iFrame, mark: .last, ts: 200), into: &events)
        #expect(events.frames.count == before + 1 && events.frames.last?.packages == 3)
    }

    /// Terminals that mark every package atomic: frames are cut at the timestamp change.
    @Test func allAtomicMarksAreToleratedByTimestamp() {
        let frame1 = Fixtures.keyFrameH264(size: 3000)
        let frame2 = Fixtures.deltaFrameH264(size: 2000)
        var packets = Self.pieces(frame1, 4).map { packet($0, type: .iFrame, mark: .atomic, ts: 0) }
        packets += Self.pieces(frame2, 3).map { packet($0, mark: .atomic, ts: 40) }
        packets.append(packet(Fixtures.deltaFrameH264(size: 100), mark: .atomic, ts: 80))
        let (events, r) = reassemble(packets)
        #expect(events.sawMarksUnreliable)
        #expect(events.frames.map(\.body) == [frame1, frame2])
        #expect(events.discontinuities == 0)
        #expect(r.marksTrusted == false)
    }

    /// Terminals that start every package "first" behave the same.
    @Test func everyPackageMarkedFirstIsTolerated() {
        let frame1 = Fixtures.keyFrameH264(size: 3000)
        var packets = Self.pieces(frame1, 4).map { packet($0, type: .iFrame, mark: .first, ts: 0) }
        packets.append(packet(Fixtures.deltaFrameH264(size: 100), mark: .first, ts: 40))
        let (events, _) = reassemble(packets)
        #expect(events.frames.map(\.body) == [frame1])
        #expect(events.frames.first?.unterminated == true)
    }

    /// The "last" never comes: the frame ends where the next one starts (new timestamp), marked
    /// unterminated; the same when the next frame has the same timestamp but starts a NAL unit.
    @Test func missingLastMark() {
        let frame1 = Fixtures.keyFrameH264(size: 3000)
        let p1 = Self.pieces(frame1, 3)
        var packets = [packet(p1[0], type: .iFrame, mark: .first, ts: 0), packet(p1[1], type: .iFrame, mark: .middle, ts: 0),
                       packet(p1[2], type: .iFrame, mark: .middle, ts: 0)]
        let frame2 = Fixtures.deltaFrameH264(size: 300)
        packets.append(packet(frame2, mark: .atomic, ts: 40))
        let frame3 = Fixtures.deltaFrameH264(size: 300, seed: 3)
        let p3 = Self.pieces(frame3, 2)
        packets.append(packet(p3[0], mark: .first, ts: 80))
        packets.append(packet(Fixtures.deltaFrameH264(size: 50), mark: .first, ts: 80))  // new NAL, same ts, no "last" before it
        let (events, _) = reassemble(packets)
        let frames = events.frames
        #expect(frames.map(\.body) == [frame1, frame2, p3[0]])
        #expect(frames.map(\.unterminated) == [true, false, true])
    }

    /// A middle or last package without its first (joined mid-frame): dropped with a
    /// discontinuity; the next frame is fine.
    @Test func orphanContinuationsAreDropped() {
        let frame1 = Fixtures.keyFrameH264(size: 3000)
        let p1 = Self.pieces(frame1, 3)
        let good = Fixtures.deltaFrameH264(size: 300)
        let packets = [packet(p1[1], type: .iFrame, mark: .middle, ts: 0), packet(p1[2], type: .iFrame, mark: .last, ts: 0),
                       packet(good, mark: .atomic, ts: 40), packet(Fixtures.deltaFrameH264(size: 10), mark: .atomic, ts: 80)]
        let (events, _) = reassemble(packets)
        #expect(events.discontinuities == 1)
        #expect(events.frames.map(\.body) == [good])
    }

    /// A "last" whose body starts a NAL unit (no first before it) is taken as a frame of its own.
    @Test func lastWithAStartCodeStartsAFrame() {
        let frame = Fixtures.deltaFrameH264(size: 300)
        let packets = [packet(frame, mark: .last, ts: 0), packet(Fixtures.deltaFrameH264(size: 10), mark: .atomic, ts: 40)]
        let (events, _) = reassemble(packets)
        #expect(events.frames.map(\.body) == [frame])
        #expect(events.discontinuities == 0)
    }

    /// Terminals that advance the timestamp on every package of a frame: the marks hold it together.
    @Test func timestampAdvancingPerPackage() {
        let frame1 = Fixtures.keyFrameH264(size: 3000)
        let p = Self.pieces(frame1, 3)
        let packets = [packet(p[0], type: .iFrame, mark: .first, ts: 0), packet(p[1], type: .iFrame, mark: .middle, ts: 1),
                       packet(p[2], type: .iFrame, mark: .last, ts: 2), packet(Fixtures.deltaFrameH264(size: 10), mark: .atomic, ts: 40)]
        let (events, _) = reassemble(packets)
        #expect(events.frames.map(\.body) == [frame1])
        #expect(events.frames.first?.timestamp == 0)
    }

    /// SPS, PPS and the picture sent as separate atomic frames with one timestamp: three frames
    /// (the demuxer joins them), not marks gone wrong.
    @Test func parameterSetsAsSeparateFrames() {
        let packets = [packet(Fixtures.annexB([Fixtures.h264SPS]), type: .iFrame, mark: .atomic, ts: 0),
                       packet(Fixtures.annexB([Fixtures.h264PPS]), type: .iFrame, mark: .atomic, ts: 0),
                       packet(Fixtures.annexB([Fixtures.h264Slice(key: true, size: 500)]), type: .iFrame, mark: .atomic, ts: 0),
                       packet(Fixtures.deltaFrameH264(size: 10), mark: .atomic, ts: 40)]
        let (events, r) = reassemble(packets)
        // Three good end marks: trusted, so the fourth frame went out at once too.
        #expect(events.frames.map(\.body) == packets.map(\.body))
        #expect(!events.sawMarksUnreliable && r.marksTrusted == true)
    }

    /// Marks trusted, then one proves wrong: the package that continued an already passed-on frame
    /// is dropped (video resumes at a key frame), and from then on frames are cut by timestamp.
    @Test func marksThatTurnWrongAfterBeingTrusted() {
        var r = JT1078Reassembler(video: true)
        var events: [JT1078Reassembler.Event] = []
        for i in 0..<4 { r.push(packet(Fixtures.deltaFrameH264(size: 100), mark: .atomic, ts: UInt64(i) * 40), into: &events) }
        #expect(r.marksTrusted == true)
        let frame = Fixtures.keyFrameH264(size: 2000)
        let p = Self.pieces(frame, 3)
        for piece in p { r.push(packet(piece, type: .iFrame, mark: .atomic, ts: 200), into: &events) }
        #expect(events.sawMarksUnreliable && events.discontinuities == 1)
        #expect(r.marksTrusted == false)
        let next = Fixtures.annexB([Fixtures.h264SPS, Fixtures.h264PPS, Fixtures.h264Slice(key: true, size: 1500)])
        for piece in Self.pieces(next, 2) { r.push(packet(piece, type: .iFrame, mark: .atomic, ts: 240), into: &events) }
        r.push(packet(Fixtures.deltaFrameH264(size: 10), mark: .atomic, ts: 280), into: &events)
        #expect(events.frames.last?.body == next)
    }

    @Test func framesOverTheLimitAreDropped() {
        let frame = Fixtures.keyFrameH264(size: 10_000)
        var packets = zip(Self.pieces(frame, 11), Self.marks(11)).map { packet($0, type: .iFrame, mark: $1, ts: 0) }
        let after = Fixtures.deltaFrameH264(size: 100)
        packets.append(packet(after, mark: .atomic, ts: 40))
        packets.append(packet(Fixtures.deltaFrameH264(size: 10), mark: .atomic, ts: 80))
        let (events, _) = reassemble(packets, maxFrameBytes: 5000)
        #expect(events.discontinuities == 1)
        #expect(events.frames.map(\.body) == [after])
    }

    @Test func audioFramesEndAtTheirMarkOrATimestampChange() {
        let a = bytes(Array(repeating: 0xD5, count: 320))
        let b = bytes(Array(repeating: 0x55, count: 160))
        let packets = [packet(a, pt: 6, type: .audio, mark: .atomic, ts: 0),
                       packet(b, pt: 6, type: .audio, mark: .first, ts: 40), packet(b, pt: 6, type: .audio, mark: .last, ts: 40),
                       packet(a, pt: 6, type: .audio, mark: .middle, ts: 80),  // orphan: audio takes it as a frame
                       packet(b, pt: 6, type: .audio, mark: .first, ts: 120),  // never ended: cut at the next timestamp
                       packet(a, pt: 6, type: .audio, mark: .atomic, ts: 160)]
        let (events, _) = reassemble(packets, video: false)
        var joined = b
        joined.writeImmutableBuffer(b)
        #expect(events.frames.map(\.body) == [a, joined, a, b, a])
        #expect(events.frames.map(\.timestamp) == [0, 40, 80, 120, 160])
    }

    /// A payload-type change ends a frame too.
    @Test func payloadTypeChangeEndsAFrame() {
        let p = Self.pieces(Fixtures.keyFrameH264(size: 2000), 2)
        let hevc = Fixtures.annexB([Fixtures.hevcSlice(key: false, size: 100)])
        let packets = [packet(p[0], type: .iFrame, mark: .first, ts: 0),
                       packet(hevc, pt: JT1078PayloadType.h265, mark: .middle, ts: 0),
                       packet(Fixtures.deltaFrameH264(size: 10), pt: JT1078PayloadType.h265, mark: .atomic, ts: 40)]
        let (events, _) = reassemble(packets)
        #expect(events.frames.map(\.payloadType) == [98, 99])
    }
}
