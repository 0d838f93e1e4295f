/// Puts UDP-delivered RTP packets back in sequence order within a bounded window and reports
/// gaps, so the consumer can drop until the next key frame instead of emitting corrupt frames.
///
/// Packets are held in a ring of `window` slots indexed by their *distance* from the next
/// expected sequence number (slot `head` is the expected one, `head + d` the one `d` later), so
/// two held packets can never share a slot whatever the window size or the 2^16 wrap (indexing
/// by `sequence % window` collides across the wrap when 65536 is not a multiple of the window).
/// A missing packet is waited for until a packet `window` or more positions after it arrives;
/// then it is declared lost (`.loss`) and delivery resumes. Duplicates and packets that arrive
/// after their slot was given up are dropped. Sequence numbers wrap at 2^16; a jump of more than
/// `maxDropout` (or two consecutive packets far behind, as when a sender restarts)
/// resynchronizes on the new numbers (RFC 3550 appendix A.1). `window` 0 delivers at once and
/// reports every gap (TCP).
///
/// Every loop is bounded by the number of slots, so no sequence pattern can make it spin.
public struct RTPReorderBuffer<Element> {
    public enum Output {
        case packet(Element)
        /// `count` sequence numbers were skipped before the next packet.
        case loss(count: Int)
    }

    public struct Stats: Sendable, Equatable {
        public var delivered: UInt64 = 0
        public var lost: UInt64 = 0
        public var duplicates: UInt64 = 0
        /// Arrived after their slot was declared lost (or behind the window).
        public var late: UInt64 = 0
        /// Arrived ahead of a gap and were held back.
        public var reordered: UInt64 = 0
        public var resyncs: UInt64 = 0
    }

    /// The largest window: distances are signed 16-bit, and half of them lie behind.
    public static var maxWindow: Int { 16384 }

    public let window: Int
    public let maxDropout: Int
    public let maxMisorder: Int
    /// `slots[(head + d) % slots.count]` holds the packet `d` after `expected` (d ≥ 1);
    /// `slots[head]` is always empty (the expected packet is delivered on arrival).
    private var slots: [Element?]
    private var head = 0
    private var expected: UInt16?
    private var held = 0
    private var probation: UInt16?
    public private(set) var stats = Stats()

    /// `window` is clamped to 0...`maxWindow` (config validates it; nothing here traps).
    public init(window: Int, maxDropout: Int = 3000, maxMisorder: Int = 100) {
        let window = min(max(window, 0), Self.maxWindow)
        self.window = window
        self.maxDropout = max(maxDropout, window + 1)
        self.maxMisorder = max(maxMisorder, window)
        self.slots = Array(repeating: nil, count: max(window, 1))
    }

    /// Packets currently held back waiting for a gap to fill.
    public var heldCount: Int { held }

    /// The sequence number delivered at once on arrival (nil before the first packet); any other
    /// may be held back.
    public var nextSequence: UInt16? { expected }

    /// Slots actually occupied (equals `heldCount`; for tests of that invariant).
    var occupiedSlots: Int { slots.reduce(0) { $1 == nil ? $0 : $0 + 1 } }

    public mutating func push(_ element: Element, sequence: UInt16, emit: (Output) throws -> Void) rethrows {
        guard let exp = expected else {
            expected = sequence &+ 1
            try deliver(element, emit: emit)
            return
        }
        let distance = Int(Int16(bitPattern: sequence &- exp))
        if distance < 0 {
            if -distance > maxMisorder {
                // Far behind: a restarted sender, or a stray. Two in a row means a restart.
                if probation == sequence {
                    probation = nil
                    try resync(at: sequence, element, emit: emit)
                } else {
                    probation = sequence &+ 1
                    stats.late &+= 1
                }
            } else {
                stats.late &+= 1  // a duplicate of a delivered packet, or one given up as lost
            }
            return
        }
        probation = nil
        if distance > maxDropout {
            try resync(at: sequence, element, emit: emit)
            return
        }
        var ahead = distance
        if ahead >= slots.count {
            // Make room: give up the oldest positions until this one fits the ring.
            try advance(by: ahead - slots.count + 1, emit: emit)
            guard let now = expected else { return }
            ahead = Int(sequence &- now)  // 0..<slots.count: held packets all lie before it
        }
        if ahead == 0 {
            expected = sequence &+ 1
            head = (head + 1) % slots.count
            try deliver(element, emit: emit)
            try drain(emit: emit)
            return
        }
        let slot = (head + ahead) % slots.count
        if slots[slot] != nil {
            stats.duplicates &+= 1
            return
        }
        slots[slot] = element
        held += 1
        stats.reordered &+= 1
    }

    /// Delivers everything held (reporting the gaps) and waits for whatever comes next.
    public mutating func flush(emit: (Output) throws -> Void) rethrows {
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
        head = 0
        expected = nil
        probation = nil
    }

    private mutating func deliver(_ element: Element, emit: (Output) throws -> Void) rethrows {
        stats.delivered &+= 1
        try emit(.packet(element))
    }

    private mutating func resync(at sequence: UInt16, _ element: Element, emit: (Output) throws -> Void) rethrows {
        try flush(emit: emit)
        stats.resyncs &+= 1
        try emit(.loss(count: 0))
        expected = sequence &+ 1
        try deliver(element, emit: emit)
    }

    /// Moves `expected` forward by `count` (≥ 1), delivering held packets on the way and
    /// reporting the empty positions as lost. Visits at most `slots.count` slots: beyond that
    /// every slot has been emptied.
    private mutating func advance(by count: Int, emit: (Output) throws -> Void) rethrows {
        guard let exp = expected, count > 0 else { return }
        var missing = 0
        let visits = min(count, slots.count)
        for _ in 0..<visits {
            if let element = slots[head] {
                slots[head] = nil
                held -= 1
                if missing > 0 {
                    stats.lost &+= UInt64(missing)
                    try emit(.loss(count: missing))
                    missing = 0
                }
                try deliver(element, emit: emit)
            } else {
                missing += 1
            }
            head = (head + 1) % slots.count
        }
        missing += count - visits
        head = (head + (count - visits) % slots.count) % slots.count
        if missing > 0 {
            stats.lost &+= UInt64(missing)
            try emit(.loss(count: missing))
        }
        expected = exp &+ UInt16(truncatingIfNeeded: count)
        try drain(emit: emit)
    }

    /// Delivers the held packets that now follow on without a gap; at most `held` iterations.
    private mutating func drain(emit: (Output) throws -> Void) rethrows {
        while held > 0, let seq = expected, let element = slots[head] {
            slots[head] = nil
            held -= 1
            head = (head + 1) % slots.count
            expected = seq &+ 1
            try deliver(element, emit: emit)
        }
    }
}
