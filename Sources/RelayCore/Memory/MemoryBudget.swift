import NIOCore
import Synchronization

/// The bytes every source holds for players (GOP caches and cached segments), counted as
/// allocated — storage capacity plus a per-entry overhead — not as payload bytes, so a flood of
/// tiny packets costs what it really costs.
///
/// Sources report changes coarsely (`Source` batches them), so one atomic is enough. Past
/// `limit` new publishers and players are refused (`limits.max_memory_bytes`).
public final class MemoryBudget: Sendable {
    /// 0 = no limit.
    public let limit: Int
    private let used = Atomic<Int>(0)
    private let trimRequested = Atomic<Bool>(false)

    public init(limit: Int) {
        self.limit = limit
    }

    public var usedBytes: Int { used.load(ordering: .relaxed) }

    /// Over the limit: admit nobody new until caches shrink.
    public var isExhausted: Bool { limit > 0 && usedBytes > limit }

    public func add(_ delta: Int) {
        guard delta != 0 else { return }
        used.wrappingAdd(delta, ordering: .relaxed)
    }

    /// Asks `MemoryTrimmer` to give freed heap back at its next look (a source closed).
    public func requestTrim() { trimRequested.store(true, ordering: .relaxed) }

    func takeTrimRequest() -> Bool { trimRequested.exchange(false, ordering: .relaxed) }
}

/// What one cached entry really costs beyond its bytes.
public enum MemoryCost {
    /// An `AVPacket` in an array (≈ 64 B) plus its share of a storage header.
    public static let packetOverhead = 96
    /// A `Segment` in an array, its storage object and malloc rounding.
    public static let segmentOverhead = 96
    /// A write queued in NIO for a player (its pending-write entry, the segment's header).
    public static let pendingWriteOverhead = 128

    /// A payload as a cache should keep it: a small slice that pins a much larger storage (a
    /// 1-byte audio frame sliced out of a 64 KiB receive buffer) is copied into storage of its own
    /// size, so that what the cache counts is what it holds.
    public static func compacted(_ payload: ByteBuffer) -> ByteBuffer {
        let bytes = payload.readableBytes
        guard payload.storageCapacity > 2 * bytes + 1024 else { return payload }
        var copy = ByteBufferAllocator().buffer(capacity: bytes)
        copy.writeImmutableBuffer(payload)
        return copy
    }

    /// Bytes a cached buffer keeps alive.
    public static func held(_ buffer: ByteBuffer) -> Int { buffer.storageCapacity }
}
