import Foundation
import NIOCore
import RelayCore
@testable import RelayRTP
import Synchronization
import Testing

/// Runs `body` on a thread with a small stack (as event-loop threads may have) and waits at most
/// `seconds`: a recursion driven by input crashes here, a loop that never ends times out.
func onSmallStack(seconds: Double = 10, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.stackSize = 256 << 10
    thread.start()
    return done.wait(timeout: .now() + seconds) == .success
}

/// Issue 16, defect 6: the reorder buffer must be right, and finish, for every window size and
/// sequence pattern.
struct ReorderBufferHardeningTests {
    static func strings(_ window: Int, _ seqs: [UInt16]) -> (out: [String], held: Int) {
        var buffer = RTPReorderBuffer<UInt16>(window: window)
        var out: [String] = []
        let record: (RTPReorderBuffer<UInt16>.Output) -> Void = { o in
            switch o {
            case .packet(let p): out.append("\(p)")
            case .loss(let n): out.append("-\(n)")
            }
        }
        for s in seqs { buffer.push(s, sequence: s, emit: record) }
        buffer.flush(emit: record)
        return (out, buffer.heldCount)
    }

    /// The reported trigger: two held packets used to share slot `seq % 100` across the wrap, and
    /// `flush` spun for ever on `while held > 0`.
    @Test func theWrapCollisionTriggerFlushesAndEnds() {
        let result = Mutex<(out: [String], held: Int)?>(nil)
        let finished = onSmallStack(seconds: 5) {
            let r = Self.strings(100, [65500, 65501, 65510, 10, 3500])
            result.withLock { $0 = r }
        }
        #expect(finished, "push/flush did not return within 5 s")
        guard finished, let r = result.withLock({ $0 }) else { return }
        #expect(r.out == ["65500", "65501", "-8", "65510", "-35", "10", "-0", "3500"])
        #expect(r.held == 0)
    }

    struct Packet {
        var id: Int
        var seq: UInt16
    }

    /// A deterministic generator of hostile and ordinary sequence patterns.
    struct Patterns {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }

        mutating func sequence(pattern: Int, window: Int, count: Int) -> [UInt16] {
            var seq = UInt16(truncatingIfNeeded: 65536 - 50 - next(200))  // crosses the wrap early
            var out: [UInt16] = []
            while out.count < count {
                switch pattern {
                case 0:  // in order with local reordering inside the window
                    let n = 1 + next(max(window, 1))
                    var run = (0..<n).map { seq &+ UInt16($0) }
                    for i in run.indices.reversed() { run.swapAt(i, next(i + 1)) }
                    out += run
                    seq &+= UInt16(n)
                case 1:  // duplicates and late copies
                    out.append(seq)
                    if next(3) == 0 { out.append(seq) }
                    if next(5) == 0 { out.append(seq &- UInt16(next(window + 2))) }
                    seq &+= 1
                case 2:  // losses and jumps around the window size
                    out.append(seq)
                    seq &+= UInt16(1 + next(3) == 1 ? window + next(3) : 1)
                case 3:  // huge jumps either way (restarts, strays)
                    out.append(seq)
                    seq &+= UInt16(truncatingIfNeeded: next(4) == 0 ? next(65536) : 1)
                case 4:  // values that collide modulo the window across the wrap
                    out.append(seq)
                    seq &+= UInt16(truncatingIfNeeded: [1, 9, window, window + 1, 65536 % max(window, 1) + 1, 3001][next(6)])
                default:  // uniformly random numbers
                    out.append(UInt16(truncatingIfNeeded: next(65536)))
                }
            }
            return Array(out.prefix(count))
        }
    }

    /// Invariants on every push: no packet delivered twice; delivered sequence numbers follow on
    /// from the last one except across reported gaps (`.loss(n)`: exactly n skipped) or a
    /// resynchronization (`.loss(0)`); the work per push is bounded by the window; `heldCount`
    /// matches the occupied slots and stays below the window; every packet is delivered or
    /// counted as a duplicate or late.
    @Test func invariantsHoldForEveryWindowAndPattern() {
        let finished = onSmallStack(seconds: 60) {
            for window in [0, 1, 2, 3, 5, 7, 8, 10, 16, 31, 32, 33, 64, 99, 100, 101, 127, 128, 255, 1000, 1024] {
                for pattern in 0..<6 {
                    for seed in 1...2 {
                        var gen = Patterns(state: UInt64(window * 1000 + pattern * 10 + seed))
                        let seqs = gen.sequence(pattern: pattern, window: window, count: 700)
                        Self.check(window: window, seqs: seqs, label: "window \(window) pattern \(pattern) seed \(seed)")
                    }
                }
            }
        }
        #expect(finished)
    }

    static func check(window: Int, seqs: [UInt16], label: String) {
        var buffer = RTPReorderBuffer<Packet>(window: window)
        var delivered = Set<Int>()
        var last: UInt16?
        var gap = 0
        var resynced = false
        var problems: [String] = []
        var emitted = 0
        let record: (RTPReorderBuffer<Packet>.Output) -> Void = { o in
            emitted += 1
            switch o {
            case .loss(let n):
                if n == 0 { resynced = true } else { gap += n }
            case .packet(let p):
                if !delivered.insert(p.id).inserted { problems.append("packet \(p.id) delivered twice") }
                if let l = last, !resynced, p.seq != l &+ UInt16(truncatingIfNeeded: gap + 1) {
                    problems.append("\(p.seq) after \(l) with a gap of \(gap)")
                }
                last = p.seq
                gap = 0
                resynced = false
            }
        }
        let slots = max(window, 1)
        for (id, seq) in seqs.enumerated() {
            emitted = 0
            buffer.push(Packet(id: id, seq: seq), sequence: seq, emit: record)
            if emitted > 2 * slots + 4 { problems.append("push \(id) emitted \(emitted) outputs") }
            if (window <= 128 || id % 16 == 0) && buffer.heldCount != buffer.occupiedSlots {
                problems.append("held \(buffer.heldCount) != occupied \(buffer.occupiedSlots)")
            }
            if buffer.heldCount >= slots && window > 0 { problems.append("held \(buffer.heldCount) in \(slots) slots") }
            if problems.count > 3 { break }
        }
        buffer.flush(emit: record)
        let s = buffer.stats
        #expect(problems.isEmpty, "\(label): \(problems.prefix(3))")
        #expect(buffer.heldCount == 0 && buffer.occupiedSlots == 0, "\(label)")
        #expect(s.delivered &+ s.duplicates &+ s.late == UInt64(seqs.count), "\(label): \(s) for \(seqs.count)")
        #expect(UInt64(delivered.count) == s.delivered, "\(label)")
    }
}

/// Issue 16, defect 5: false start codes must not recurse (one stack frame each used to
/// overflow the stack: SIGSEGV).
struct PSParserHardeningTests {
    /// 64 KiB of `00 00 01 E0`: each a PES header that is no PES header.
    @Test func aFrameOfFalsePESStartCodesDoesNotRecurse() {
        let ok = onSmallStack {
            var junk = ByteBuffer()
            for _ in 0..<(65536 / 4) { junk.writeBytes([0x00, 0x00, 0x01, 0xE0]) }
            var demuxer = PSDemuxer()
            var events: [MediaEvent] = []
            #expect(throws: Never.self) { try demuxer.feed(junk, arrival: 0, into: &events) }
            #expect(events.isEmpty)
        }
        #expect(ok)
    }

    /// A map claiming 65535 bytes whose body is `00 00 01 BA` over and over (each a pack header
    /// that is no pack header once the map turns out invalid), in two pieces as over TCP.
    @Test func aHugeMapOfFalsePackStartCodesDoesNotRecurse() {
        let ok = onSmallStack {
            var psm = ByteBuffer(bytes: [0x00, 0x00, 0x01, 0xBC, 0xFF, 0xFF, 0xE0, 0x00, 0xFF, 0xFF])
            while psm.readableBytes < 6 + 65535 + 4096 { psm.writeBytes([0x00, 0x00, 0x01, 0xBA]) }
            var demuxer = PSDemuxer()
            var events: [MediaEvent] = []
            let half = psm.readableBytes / 2
            #expect(throws: Never.self) {
                try demuxer.feed(psm.getSlice(at: 0, length: half)!, arrival: 0, into: &events)
                try demuxer.feed(psm.getSlice(at: half, length: psm.readableBytes - half)!, arrival: 1, into: &events)
            }
        }
        #expect(ok)
    }

    /// In sync, the same junk is an error (the UDP session drops the frame and resyncs); after
    /// `discontinuity()` a good stream is found again.
    @Test func inSyncJunkThrowsAndTheParserResyncs() throws {
        let (ps, _) = Fixtures.program(frames: 6, gop: 3)
        var demuxer = PSDemuxer()
        var events: [MediaEvent] = []
        try demuxer.feed(ps[0], arrival: 0, into: &events)
        var junk = ByteBuffer()
        for _ in 0..<4096 { junk.writeBytes([0x00, 0x00, 0x01, 0xE0]) }
        #expect(throws: PSError.self) { try demuxer.feed(junk, arrival: 1, into: &events) }
        demuxer.discontinuity()
        events.removeAll()
        for (i, piece) in ps.enumerated() { try demuxer.feed(piece, arrival: Int64(i) * 3600, into: &events) }
        try demuxer.finish(into: &events)
        #expect(events.contains { if case .packet(let p) = $0 { return p.isKeyFrame } else { return false } })
    }

    /// A map with more entries than any real one is refused, whatever its length says.
    @Test func mapEntriesAreBounded() {
        var body = ByteBuffer(bytes: [0xE0, 0xFF, 0x00, 0x00])  // no program info
        body.writeInteger(UInt16(4 * 1000))
        for _ in 0..<1000 { body.writeBytes([0x1B, 0xE0, 0x00, 0x00]) }
        #expect(throws: PSError.self) { _ = try PSParser.parseMap(body) }
    }
}

struct TimestampHardeningTests {
    /// A sender alternating values half the range apart walks the unwrapped value without end;
    /// near the bound it is re-anchored instead of overflowing.
    @Test func unwrappedValuesStayBounded() {
        var u = TimestampUnwrapper(bits: 33, last: TimestampUnwrapper.limit - 10)
        for i in 0..<1000 {
            let v = u.unwrap(i % 2 == 0 ? 1 << 32 : 0)
            #expect(abs(v) <= TimestampUnwrapper.limit)
        }
        var down = TimestampUnwrapper(bits: 33, last: -TimestampUnwrapper.limit + 10)
        for i in 0..<1000 { #expect(abs(down.unwrap(i % 2 == 0 ? 1 << 32 : 0)) <= TimestampUnwrapper.limit) }
        #expect(TimestampUnwrapper(bits: 99).bits == 60)
        #expect(TimestampUnwrapper(bits: -1).bits == 1)
    }
}

struct AccessUnitHardeningTests {
    /// A frame of 100 000 one-byte "SPS" NAL units keeps at most `maxParameterSets` of them.
    @Test func parameterSetsPerAccessUnitAreBounded() throws {
        var assembler = AccessUnitAssembler(codec: .h264)
        var es = ByteBuffer()
        for _ in 0..<100_000 { es.writeBytes([0x00, 0x00, 0x01, 0x67]) }
        es.writeBytes([0x00, 0x00, 0x01, 0x65, 0x88, 0x80, 0x00, 0x00, 0x01, 0x09, 0xF0])
        var out: [VideoAccessUnit] = []
        try assembler.append(es, arrival: 0, into: &out)
        try assembler.flush(arrival: 0, into: &out)
        #expect(out.count == 1)
        #expect(out.first?.sps.count == AccessUnitAssembler.maxParameterSets)
    }
}
