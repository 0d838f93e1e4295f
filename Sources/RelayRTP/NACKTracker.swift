/// The receiving side of NACK (WHIP ingest): which sequence numbers of one SSRC to ask again for.
///
/// The missing numbers are kept oldest first, all within `maxMissing` behind the highest number
/// received, so memory is bounded by `maxMissing` entries whatever the sender does.
public struct NACKTracker: Sendable {
    struct Missing: Sendable {
        let sequence: UInt16
        var asked: Int
        var dueNanos: Int64
    }

    private let maxMissing: Int
    private let maxRetries: Int
    private let retryNanos: Int64
    private var highest: UInt16?
    private var missing: [Missing] = []

    /// `maxMissing`: sequence numbers tracked at most (older ones are given up); each is asked for at most `maxRetries` times, `retryNanos` apart.
    public init(maxMissing: Int = 512, maxRetries: Int = 3, retryNanos: Int64 = 30_000_000) {
        // Below half the sequence space, so "ahead" and "behind" stay unambiguous.
        self.maxMissing = min(max(maxMissing, 1), 0x7FFF)
        self.maxRetries = max(maxRetries, 1)
        self.retryNanos = max(retryNanos, 0)
    }

    public var missingCount: Int { missing.count }

    /// A packet arrived (wrap-aware; a jump of more than maxMissing resets; duplicates/late ones clear their entry).
    public mutating func received(_ sequence: UInt16, now: Int64) {
        guard let highest else {
            self.highest = sequence
            return
        }
        let ahead = Int(sequence &- highest)
        let behind = Int(highest &- sequence)
        if ahead == 0 { return }
        if ahead < 0x8000 {
            guard ahead <= maxMissing else { return reset(at: sequence) }
            self.highest = sequence
            // Given up: what falls more than maxMissing behind.
            let stale = missing.prefix { Int(sequence &- $0.sequence) > maxMissing }.count
            if stale > 0 { missing.removeFirst(stale) }
            // Everything between the old highest and this one is missing, due at once.
            var gap = highest &+ 1
            while gap != sequence {
                missing.append(Missing(sequence: gap, asked: 0, dueNanos: now))
                gap &+= 1
            }
        } else {
            guard behind <= maxMissing else { return reset(at: sequence) }
            if let index = index(of: sequence) { missing.remove(at: index) }
        }
    }

    /// The sequence numbers to NACK now (each counted against its retries); empty most of the time; no allocation when nothing is missing.
    public mutating func due(now: Int64) -> [UInt16] {
        var out: [UInt16] = []
        var given = 0
        for i in missing.indices where missing[i].dueNanos <= now {
            out.append(missing[i].sequence)
            missing[i].asked += 1
            missing[i].dueNanos = now &+ retryNanos
            if missing[i].asked >= maxRetries { given += 1 }
        }
        if given > 0 { missing.removeAll { $0.asked >= maxRetries } }
        return out
    }

    /// A stream that restarted or jumped: nothing before it can be asked for any more.
    private mutating func reset(at sequence: UInt16) {
        highest = sequence
        missing.removeAll(keepingCapacity: true)
    }

    /// Binary search: entries are oldest first, so their distance behind `highest` decreases.
    private func index(of sequence: UInt16) -> Int? {
        guard let highest else { return nil }
        let target = highest &- sequence
        var low = 0, high = missing.count
        while low < high {
            let mid = (low + high) / 2
            let distance = highest &- missing[mid].sequence
            if distance == target { return mid }
            if distance > target { low = mid + 1 } else { high = mid }
        }
        return nil
    }
}
