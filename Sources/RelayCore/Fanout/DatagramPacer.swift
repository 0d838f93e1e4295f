import NIOCore

/// Sends a sink's segments as datagrams, paced: what a UDP output (RTSP/UDP players, GB28181
/// UDP senders) shares. Confined to `eventLoop`, where the sockets live.
///
/// The cached GOP a sink starts with (up to a few hundred KB) is paced rather than sent in one
/// burst: UDP has no flow control, and a burst bigger than the peer's receive buffer is lost
/// whenever the peer is a little late to read. Live segments queue behind what is still paced.
/// A socket that cannot take more, or a backlog the pace cannot drain, means the host is
/// overloaded: the sink skips to the next key frame rather than queue without bound.
///
/// `sendFrames(bytes, budget)` sends whole framed packets from the front of `bytes` (as slices,
/// no copy) while `budget` lasts, and returns what is left of it; the framing is the caller's.
public final class DatagramPacer {
    /// At most `burstBytes` every `burstInterval` while a backlog drains (64 KB / 8 ms ≈ 64 Mbit/s).
    public static let burstBytes = 64 << 10
    public static let burstInterval = TimeAmount.milliseconds(8)
    /// Queued beyond this, the sink skips to the next key frame.
    public static let maxBacklogBytes = 8 << 20

    private let eventLoop: any EventLoop
    private let sendFrames: (inout ByteBuffer, Int) -> Int
    private let isWritable: () -> Bool
    private var waitingForKey = false
    /// A ring: the pace drains from the front (an array would shift on every removal).
    private var backlog = CircularBuffer<ByteBuffer>()
    public private(set) var backlogBytes = 0
    private var pump: Scheduled<Void>?
    private var stopped = false
    public private(set) var segmentsDropped: UInt64 = 0

    public init(eventLoop: any EventLoop, isWritable: @escaping () -> Bool,
                sendFrames: @escaping (inout ByteBuffer, Int) -> Int) {
        self.eventLoop = eventLoop
        self.isWritable = isWritable
        self.sendFrames = sendFrames
    }

    public func start(_ startup: StartupBytes) {
        waitingForKey = startup.segments.first?.startsWithKeyFrame != true
        guard !waitingForKey else { return }
        for segment in startup.segments { enqueue(segment.bytes) }
        sendPaced()
    }

    /// Returns false when the sink could not keep up and now skips to the next key frame.
    @discardableResult
    public func deliver(_ segment: Segment) -> Bool {
        guard !stopped else { return true }
        if waitingForKey {
            guard segment.startsWithKeyFrame else {
                segmentsDropped &+= 1
                return true
            }
            waitingForKey = false
        }
        if !isWritable() || backlogBytes > Self.maxBacklogBytes {
            dropBacklog()
            waitingForKey = true
            segmentsDropped &+= 1
            return false
        }
        if backlog.isEmpty {
            var bytes = segment.bytes
            _ = sendFrames(&bytes, .max)
        } else {
            enqueue(segment.bytes)
        }
        return true
    }

    /// Sends `bytes` at once, ahead of any backlog (goodbyes: RTCP BYE), unless stopped.
    public func sendNow(_ bytes: ByteBuffer) {
        guard !stopped else { return }
        var bytes = bytes
        _ = sendFrames(&bytes, .max)
    }

    public func stop() {
        stopped = true
        dropBacklog()
    }

    /// Counts each queued segment's own cost too, so a flood of tiny ones hits the bound.
    private func enqueue(_ bytes: ByteBuffer) {
        backlog.append(bytes)
        backlogBytes += bytes.readableBytes + MemoryCost.pendingWriteOverhead
    }

    private func dropBacklog() {
        pump?.cancel()
        pump = nil
        backlog.removeAll()
        backlogBytes = 0
    }

    /// Sends up to one burst from the backlog, then comes back for the rest.
    private func sendPaced() {
        pump = nil
        guard !stopped else { return }
        var budget = Self.burstBytes
        while budget > 0, !backlog.isEmpty {
            let before = backlog[offset: 0].readableBytes
            budget = sendFrames(&backlog[offset: 0], budget)
            backlogBytes -= before - backlog[offset: 0].readableBytes
            if backlog[offset: 0].readableBytes == 0 {
                backlog.removeFirst()
                backlogBytes -= MemoryCost.pendingWriteOverhead
            }
        }
        guard !backlog.isEmpty else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        pump = eventLoop.scheduleTask(in: Self.burstInterval) { bound.value.sendPaced() }
    }
}
