#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import NIOConcurrencyHelpers
import NIOCore

/// Gives freed heap back to the operating system after many connections have gone.
///
/// glibc keeps memory that players freed inside its arenas, so RSS stays at its peak after a
/// crowd leaves. Every `interval` this looks at the open connection count; once it has fallen by
/// `minDrop` or more from the highest count since the last trim, `malloc_trim(0)` runs (off the
/// event loops: it walks the heap) and the pages go back. Nothing happens while counts only grow.
/// The same goes for what sources hold (`MemoryBudget`): a fall of `minBytesDrop` or more trims
/// too, and so does a source that closed (`MemoryBudget.requestTrim`: a publisher's receive
/// buffers and caches, often a hostile one's, are freed in bulk then).
public final class MemoryTrimmer: Sendable {
    private let connections: @Sendable () -> Int
    private let budget: MemoryBudget?
    private let minDrop: Int
    private let minBytesDrop: Int
    private let peak = NIOLockedValueBox(0)
    private let bytesPeak = NIOLockedValueBox(0)
    private let task = NIOLockedValueBox<RepeatedTask?>(nil)

    public init(minDrop: Int = 64, minBytesDrop: Int = 32 << 20, budget: MemoryBudget? = nil,
                connections: @escaping @Sendable () -> Int) {
        self.minDrop = minDrop
        self.minBytesDrop = minBytesDrop
        self.budget = budget
        self.connections = connections
    }

    public func start(on loop: any EventLoop, interval: TimeAmount = .seconds(5)) {
        let repeated = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in check() }
        task.withLockedValue { $0 = repeated }
    }

    public func stop() {
        task.withLockedValue { $0?.cancel(); $0 = nil }
    }

    /// One look: trims when the count fell far enough below the peak. True when it trimmed.
    @discardableResult
    public func check() -> Bool {
        let now = connections()
        let fewerConnections = Self.fell(peak, to: now, by: minDrop)
        let fewerBytes = budget.map { Self.fell(bytesPeak, to: $0.usedBytes, by: minBytesDrop) } ?? false
        let requested = budget?.takeTrimRequest() ?? false
        let trim = fewerConnections || fewerBytes || requested
        if trim, let mallocTrim = Self.mallocTrim {
            DispatchQueue.global(qos: .utility).async { _ = mallocTrim(0) }
        }
        return trim
    }

    /// Tracks the highest value since the last fall; true (and the peak reset) on a fall of `by`.
    private static func fell(_ peak: NIOLockedValueBox<Int>, to now: Int, by drop: Int) -> Bool {
        peak.withLockedValue { peak -> Bool in
            peak = max(peak, now)
            guard peak - now >= drop else { return false }
            peak = now
            return true
        }
    }

    /// glibc's `malloc_trim` (its header is not part of the Glibc module), nil elsewhere.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
