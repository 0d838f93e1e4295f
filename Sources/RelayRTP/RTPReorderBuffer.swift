/// Puts UDP-delivered RTP packets back in sequence order within a bounded window and reports
/// gaps, so the consumer can drop until the next key frame instead of emitting corrupt frames.
///
/// Packets are held in a ring of `window` slots indexed by sequence number. A missing packet is
/// waited for until a packet `window` or more positions after it arrives; then it is declared
/// lost (`.loss`) and delivery resumes. Duplicates and packets that arrive after their slot was
/// given up are dropped. Sequence numbers wrap at 2^16; a jump of more than `maxDropout` (or two
/// consecutive packets far behind, as when a sender restarts) resynchronizes on the new numbers
/// (RFC 3550 appendix A.1). `window` 0 delivers at once and reports every gap (TCP).
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

    public let window: Int
    public let maxDropout: Int
    public let maxMisorder: Int
    private var slots: [(sequence: UInt16, element: Element)?]
    private var expected: UInt16?
    private var held = 0
    private var probation: UInt16?
    public private(set) var stats = Stats()

    public init(window: Int, maxDropout: Int = 3000, maxMisorder: Int = 100) {
        precondition(window >= 0, "reorder window must not be negative")
        self.window = window
        self.maxDropout = max(maxDropout, window + 1)
        self.maxMisorder = max(maxMisorder, window)
        self.slots = Array(repeating: nil, count: max(window, 1))
    }

    /// Packets currently held back waiting for a gap to fill.
    public var heldCount: Int { held }

    public mutating func push(_ element: Element, sequence: UInt16, emit: (Output) throws -> Void) rethrows {
        guard let exp = expected else {
            expected = sequence &+ 1
            stats.delivered += 1
            try emit(.packet(element))
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
                    stats.late += 1
                }
            } else if isHeld(sequence) {
                stats.duplicates += 1
            } else {
                stats.late += 1  // a duplicate of a delivered packet or one given up as lost
            }
            return
        }
        probation = nil
        if distance > maxDropout {
            try resync(at: sequence, element, emit: emit)
            return
        }
        if distance == 0 {
            expected = sequence &+ 1
            stats.delivered += 1
            try emit(.packet(element))
            try drain(emit: emit)
            return
        }
        // Ahead of a gap. Make room: give up the oldest slots until this one fits the ring.
        if distance >= slots.count {
            try advance(by: distance - slots.count + 1, emit: emit)
            if sequence == expected {
                expected = sequence &+ 1
                stats.delivered += 1
                try emit(.packet(element))
                try drain(emit: emit)
                return
            }
        }
        let slot = Int(sequence) % slots.count
        if let existing = slots[slot], existing.sequence == sequence {
            stats.duplicates += 1
            return
        }
        slots[slot] = (sequence, element)
        held += 1
        stats.reordered += 1
    }

    /// Delivers everything held (reporting the gaps) and waits for whatever comes next.
    public mutating func flush(emit: (Output) throws -> Void) rethrows {
        guard held > 0, let exp = expected else { return }
        var seq = exp
        var missing = 0
        while held > 0 {
            let slot = Int(seq) % slots.count
            if let entry = slots[slot], entry.sequence == seq {
                slots[slot] = nil
                held -= 1
                if missing > 0 {
                    stats.lost += UInt64(missing)
                    try emit(.loss(count: missing))
                    missing = 0
                }
                stats.delivered += 1
                try emit(.packet(entry.element))
            } else {
                missing += 1
            }
            seq &+= 1
        }
        expected = seq
    }

    /// Forgets all state (the next packet starts a new sequence).
    public mutating func reset() {
        for i in slots.indices { slots[i] = nil }
        held = 0
        expected = nil
        probation = nil
    }

    private func isHeld(_ sequence: UInt16) -> Bool {
        if let entry = slots[Int(sequence) % slots.count], entry.sequence == sequence { return true }
        return false
    }

    private mutating func resync(at sequence: UInt16, _ element: Element, emit: (Output) throws -> Void) rethrows {
        try flush(emit: emit)
        stats.resyncs += 1
        try emit(.loss(count: 0))
        expected = sequence &+ 1
        stats.delivered += 1
        try emit(.packet(element))
    }

    /// Moves `expected` forward by `count`, delivering held packets on the way and reporting
    /// the empty slots as lost.
    private mutating func advance(by count: Int, emit: (Output) throws -> Void) rethrows {
        guard var seq = expected else { return }
        var missing = 0
        for _ in 0..<count {
            let slot = Int(seq) % slots.count
            if let entry = slots[slot], entry.sequence == seq {
                slots[slot] = nil
                held -= 1
                if missing > 0 {
                    stats.lost += UInt64(missing)
                    try emit(.loss(count: missing))
                    missing = 0
                }
                stats.delivered += 1
                try emit(.packet(entry.element))
            } else {
                missing += 1
            }
            seq &+= 1
        }
        if missing > 0 {
            stats.lost += UInt64(missing)
            try emit(.loss(count: missing))
        }
        expected = seq
        try drain(emit: emit)
    }

    private mutating func drain(emit: (Output) throws -> Void) rethrows {
        while held > 0, let seq = expected {
            let slot = Int(seq) % slots.count
            guard let entry = slots[slot], entry.sequence == seq else { return }
            slots[slot] = nil
            held -= 1
            expected = seq &+ 1
            stats.delivered += 1
            try emit(.packet(entry.element))
        }
    }
}
