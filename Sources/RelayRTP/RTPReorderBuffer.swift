/// Puts UDP-delivered RTP packets back in sequence order and reports gaps, so the consumer can
/// drop the frame a lost packet belonged to instead of emitting it corrupt.
///
/// Two ways to give up on a missing packet:
/// - **by time** (`holdNanos`): a packet that arrived ahead of a gap is held at most that long;
///   then the gap before it is declared lost (`.loss`) and delivery resumes. This is what a
///   network's reordering is measured in, whatever the bitrate. The caller passes the arrival
///   time to `push` and calls `expire` when `deadline` passes (a timer), so a gap is given up
///   even when no further packet arrives.
/// - **by count** (always): at most `capacity` positions are held; a packet further ahead gives
///   up the oldest ones. With `holdNanos` nil this is the only rule (a packet-count window).
///
/// The start is decided after a **settle** window (`settleNanos`): the first packets are collected
/// for that long (or until `capacity` of them) and delivery starts at the lowest sequence number
/// among them, so a stream whose first packets arrive out of order keeps its first key frame.
///
/// Packets are held in a ring indexed by their *distance* from the next expected sequence number
/// (slot `head` is the expected one, `head + d` the one `d` later), so two held packets never
/// share a slot whatever the capacity or the 2^16 wrap. Duplicates and packets that arrive after
/// their slot was given up are dropped and counted apart (a 64-packet history of what was
/// delivered tells them apart). A jump of more than `maxDropout` (or two consecutive packets far
/// behind, as when a sender restarts) resynchronizes on the new numbers (RFC 3550 appendix A.1).
/// `capacity` 0 delivers at once and reports every gap (TCP).
///
/// Every loop is bounded by the number of slots, so no sequence pattern can make it spin.
public struct RTPReorderBuffer<Element> {
    public enum Output {
        case packet(Element)
        /// `count` sequence numbers were skipped before the next packet (0: a resynchronisation,
        /// the sequence restarted).
        case loss(count: Int)
    }

    public struct Stats: Sendable, Equatable {
        public var delivered: UInt64 = 0
        public var lost: UInt64 = 0
        /// Second copies of a packet already delivered or held.
        public var duplicates: UInt64 = 0
        /// Arrived after their position was given up as lost (or too far behind to place).
        public var late: UInt64 = 0
        /// Arrived ahead of a gap and were held back.
        public var reordered: UInt64 = 0
        public var resyncs: UInt64 = 0

        public init() {}
    }

    /// The largest window: distances are signed 16-bit, and half of them lie behind.
    public static var maxWindow: Int { 16384 }

    /// Positions that can be held (the packet-count bound); 0 = no reordering.
    public let window: Int
    /// Longest time a packet waits for a gap before it; nil = count only.
    public let holdNanos: Int64?
    public let settleNanos: Int64
    /// Bytes held at most (the `bytes` given to `push`); beyond it the oldest gap is given up.
    public let maxHeldBytes: Int
    public let maxDropout: Int
    public let maxMisorder: Int

    private struct Held {
        var element: Element
        var arrival: Int64
        var bytes: Int
    }

    /// `slots[(head + d) % slots.count]` holds the packet `d` after `expected` (d ≥ 1);
    /// `slots[head]` is always empty (the expected packet is delivered on arrival).
    private var slots: [Held?]
    private var head = 0
    private var expected: UInt16?
    private var held = 0
    private var heldBytes = 0
    private var probation: UInt16?
    /// The packet far behind that set `probation`: the first of a restarted sequence if the next
    /// one follows it (then it goes out first), else a stray (counted late).
    private var probationItem: (sequence: UInt16, held: Held)?
    /// Bit i: sequence `expected - 1 - i` was delivered (not given up).
    private var history: UInt64 = 0
    /// The first packets, before the start is decided.
    private var settling: [(sequence: UInt16, held: Held)] = []
    private var settleUntil: Int64 = 0
    /// When the packet held longest times out (nil: nothing held, or count-only).
    private var holdDeadline: Int64?
    /// When `expire` has something to do: the settle window ends, or a held packet times out.
    public var deadline: Int64? { expected == nil && !settling.isEmpty ? settleUntil : holdDeadline }
    public private(set) var stats = Stats()

    /// A packet-count window (`window` clamped to 0...`maxWindow`), starting at the first packet.
    public init(window: Int, maxDropout: Int = 3000, maxMisorder: Int = 100) {
        self.init(capacity: window, holdNanos: nil, settleNanos: 0, maxDropout: maxDropout, maxMisorder: maxMisorder)
    }

    /// A time window: gaps are waited for `holdNanos`, the start is decided after `settleNanos`,
    /// at most `capacity` packets / `maxHeldBytes` bytes are held. Nothing here traps: values
    /// are clamped (config validates them).
    public init(capacity: Int, holdNanos: Int64?, settleNanos: Int64, maxHeldBytes: Int = 4 << 20,
                maxDropout: Int = 3000, maxMisorder: Int = 100) {
        let window = min(max(capacity, 0), Self.maxWindow)
        self.window = window
        self.holdNanos = window == 0 ? nil : holdNanos.map { max($0, 0) }
        self.settleNanos = window == 0 ? 0 : max(settleNanos, 0)
        self.maxHeldBytes = max(maxHeldBytes, 1)
        self.maxDropout = max(maxDropout, window + 1)
        self.maxMisorder = max(maxMisorder, window)
        self.slots = Array(repeating: nil, count: max(window, 1))
    }

    /// Packets currently held back (waiting for a gap to fill, or for the start to settle).
    public var heldCount: Int { held + settling.count }

    /// The sequence number delivered at once on arrival (nil before the start is decided); any
    /// other may be held back.
    public var nextSequence: UInt16? { expected }

    /// Slots actually occupied (equals `held`; for tests of that invariant).
    var occupiedSlots: Int { slots.reduce(0) { $1 == nil ? $0 : $0 + 1 } }

    /// `now`: arrival time in nanoseconds of any monotonic clock (only read with `holdNanos` or a
    /// settle window); `bytes`: what holding the element costs.
    public mutating func push(_ element: Element, sequence: UInt16, now: Int64 = 0, bytes: Int = 0,
                              emit: (Output) throws -> Void) rethrows {
        let item = Held(element: element, arrival: now, bytes: max(bytes, 0))
        guard expected != nil else {
            try start(sequence, item, now: now, emit: emit)
            return
        }
        try place(sequence, item, emit: emit)
        try expire(now: now, emit: emit)
    }

    /// Gives up the gaps whose held packets waited `holdNanos` (and ends a settle window that is
    /// over). Call it when `deadline` passes.
    public mutating func expire(now: Int64, emit: (Output) throws -> Void) rethrows {
        if expected == nil, !settling.isEmpty, now >= settleUntil {
            try settle(emit: emit)
        }
        guard let hold = holdNanos else { return }
        // Each pass delivers at least the packet held longest: at most `held` passes.
        var passes = held
        while passes > 0, let d = holdDeadline, now >= d {
            passes -= 1
            // `deadline` may be stale-early (its packet went out when its gap filled).
            refreshDeadline(hold: hold)
            guard let due = holdDeadline, now >= due else { break }
            try giveUpOldest(emit: emit)
            refreshDeadline(hold: hold)
        }
    }

    /// Delivers everything held (reporting the gaps) and waits for whatever comes next.
    public mutating func flush(emit: (Output) throws -> Void) rethrows {
        if expected == nil, !settling.isEmpty { try settle(emit: emit) }
        dropProbationItem()
        guard held > 0, expected != nil else { return }
        // The last held packet is at most `slots.count - 1` ahead: one pass over the ring.
        var last = 0
        for d in 1..<slots.count where slots[(head + d) % slots.count] != nil { last = d }
        try advance(by: last + 1, emit: emit)
    }

    /// Forgets all state (the next packet starts a new sequence).
    public mutating func reset() {
        for i in slots.indices { slots[i] = nil }
        held = 0
        heldBytes = 0
        head = 0
        expected = nil
        probation = nil
        probationItem = nil
        history = 0
        settling.removeAll()
        holdDeadline = nil
    }

    // MARK: start

    private mutating func start(_ sequence: UInt16, _ item: Held, now: Int64, emit: (Output) throws -> Void) rethrows {
        guard settleNanos > 0 else {
            expected = sequence &+ 1
            try deliver(item.element, emit: emit)
            return
        }
        if settling.isEmpty { settleUntil = now &+ settleNanos }
        settling.append((sequence, item))
        if settling.count >= slots.count || now >= settleUntil { try settle(emit: emit) }
    }

    /// Starts at the lowest sequence number among the settled packets (distances from the first,
    /// so the 2^16 wrap is handled), then places them all in order.
    private mutating func settle(emit: (Output) throws -> Void) rethrows {
        guard let first = settling.first?.sequence else { return }
        func distance(_ s: UInt16) -> Int { Int(Int16(bitPattern: s &- first)) }
        let near = settling.filter { abs(distance($0.sequence)) <= maxMisorder }
        let lowest = near.map { distance($0.sequence) }.min() ?? 0
        // Those that came after a later one were reordered.
        var highest = Int.min
        for p in settling {
            let d = distance(p.sequence)
            if d < highest { stats.reordered &+= 1 } else { highest = d }
        }
        let ordered = settling.sorted { distance($0.sequence) < distance($1.sequence) }
        settling.removeAll()
        expected = first &+ UInt16(truncatingIfNeeded: lowest)
        for (sequence, item) in ordered { try place(sequence, item, emit: emit) }
    }

    // MARK: placing

    private mutating func place(_ sequence: UInt16, _ item: Held, emit: (Output) throws -> Void) rethrows {
        guard let exp = expected else { return }
        let distance = Int(Int16(bitPattern: sequence &- exp))
        if distance < 0 {
            if -distance > maxMisorder {
                // Far behind: a restarted sender, or a stray. Two in a row means a restart.
                if probation == sequence {
                    probation = nil
                    try resync(at: sequence, item.element, emit: emit)
                } else {
                    dropProbationItem()
                    probation = sequence &+ 1
                    probationItem = (sequence, item)
                }
            } else if -distance <= 64, history & (1 << UInt64(-distance - 1)) != 0 {
                stats.duplicates &+= 1
            } else {
                stats.late &+= 1  // its position was given up as lost
            }
            return
        }
        probation = nil
        dropProbationItem()
        if distance > maxDropout {
            try resync(at: sequence, item.element, emit: emit)
            return
        }
        var ahead = distance
        if ahead >= slots.count {
            // Make room: give up the oldest positions until this one fits the ring.
            try advance(by: ahead - slots.count + 1, emit: emit)
            guard let next = expected else { return }
            ahead = Int(sequence &- next)  // 0..<slots.count: held packets all lie before it
        }
        if ahead == 0 {
            expected = sequence &+ 1
            head = (head + 1) % slots.count
            history = history << 1 | 1
            try deliver(item.element, emit: emit)
            try drain(emit: emit)
            return
        }
        let slot = (head + ahead) % slots.count
        if slots[slot] != nil {
            stats.duplicates &+= 1
            return
        }
        // Over the byte budget: give up gaps, oldest first, until it fits (or nothing is held).
        var passes = held
        while passes > 0, heldBytes &+ item.bytes > maxHeldBytes {
            passes -= 1
            try giveUpOldest(emit: emit)
        }
        guard let next = expected else { return }
        let d = Int(Int16(bitPattern: sequence &- next))
        guard d > 0 else {
            if d == 0 { try place(sequence, item, emit: emit) } else { stats.late &+= 1 }
            return
        }
        let target = (head + d) % slots.count
        slots[target] = item
        held += 1
        heldBytes &+= item.bytes
        stats.reordered &+= 1
        if let hold = holdNanos {
            let due = item.arrival &+ hold
            holdDeadline = min(holdDeadline ?? due, due)
        }
    }

    /// Delivers up to and including the packet held longest, reporting the gaps before it.
    private mutating func giveUpOldest(emit: (Output) throws -> Void) rethrows {
        var oldest: (d: Int, arrival: Int64)?
        for d in 1..<slots.count {
            if let h = slots[(head + d) % slots.count], oldest.map({ h.arrival < $0.arrival }) ?? true {
                oldest = (d, h.arrival)
            }
        }
        guard let oldest else { return }
        try advance(by: oldest.d + 1, emit: emit)
    }

    private mutating func refreshDeadline(hold: Int64) {
        var earliest: Int64?
        if held > 0 {
            for case let h? in slots { earliest = min(earliest ?? h.arrival, h.arrival) }
        }
        holdDeadline = earliest.map { $0 &+ hold }
    }

    private mutating func deliver(_ element: Element, emit: (Output) throws -> Void) rethrows {
        stats.delivered &+= 1
        try emit(.packet(element))
    }

    /// The sequence restarted at `sequence`: what is held goes out, then the first packet of the
    /// new numbers when it came just before (RFC 3550 A.1 would give it up, yet after a camera
    /// reboot it begins the first key frame), then this one.
    private mutating func resync(at sequence: UInt16, _ element: Element, emit: (Output) throws -> Void) rethrows {
        let first = probationItem.flatMap { $0.sequence &+ 1 == sequence ? $0.held : nil }
        if first != nil { probationItem = nil }
        try flush(emit: emit)
        stats.resyncs &+= 1
        try emit(.loss(count: 0))
        expected = sequence &+ 1
        history = 1
        if let first {
            history = 3
            try deliver(first.element, emit: emit)
        }
        try deliver(element, emit: emit)
    }

    /// A packet far behind that no restart followed was a stray: it is dropped as late.
    private mutating func dropProbationItem() {
        guard probationItem != nil else { return }
        probationItem = nil
        stats.late &+= 1
    }

    /// Moves `expected` forward by `count` (≥ 1), delivering held packets on the way and
    /// reporting the empty positions as lost. Visits at most `slots.count` slots: beyond that
    /// every slot has been emptied.
    private mutating func advance(by count: Int, emit: (Output) throws -> Void) rethrows {
        guard let exp = expected, count > 0 else { return }
        var missing = 0
        let visits = min(count, slots.count)
        for _ in 0..<visits {
            if let item = slots[head] {
                slots[head] = nil
                held -= 1
                heldBytes -= item.bytes
                if missing > 0 {
                    stats.lost &+= UInt64(missing)
                    try emit(.loss(count: missing))
                    missing = 0
                }
                history = history << 1 | 1
                try deliver(item.element, emit: emit)
            } else {
                history <<= 1
                missing += 1
            }
            head = (head + 1) % slots.count
        }
        let rest = count - visits
        missing += rest
        history = rest >= 64 ? 0 : history << UInt64(rest)
        head = (head + rest % slots.count) % slots.count
        if missing > 0 {
            stats.lost &+= UInt64(missing)
            try emit(.loss(count: missing))
        }
        expected = exp &+ UInt16(truncatingIfNeeded: count)
        if held == 0 { holdDeadline = nil }
        try drain(emit: emit)
    }

    /// Delivers the held packets that now follow on without a gap; at most `held` iterations.
    private mutating func drain(emit: (Output) throws -> Void) rethrows {
        while held > 0, let seq = expected, let item = slots[head] {
            slots[head] = nil
            held -= 1
            heldBytes -= item.bytes
            head = (head + 1) % slots.count
            expected = seq &+ 1
            history = history << 1 | 1
            try deliver(item.element, emit: emit)
        }
        if held == 0 { holdDeadline = nil }
    }
}
