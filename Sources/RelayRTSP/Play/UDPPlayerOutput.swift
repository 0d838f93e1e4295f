import Logging
import NIOCore
import RelayCore

/// Sends a player's segments as UDP datagrams: each interleaved-framed packet of the shared
/// segment goes, as a slice (no copy), from the server socket of its channel to the client port
/// of its channel. Confined to the RTSP connection's event loop, where the sockets live.
///
/// The cached GOP a player starts with (up to a few hundred KB) is paced rather than sent in one
/// burst: UDP has no flow control, and a burst bigger than the client's receive buffer is lost
/// whenever the client is a little late to read. Live segments queue behind what is still paced.
final class UDPPlayerOutput {
    struct Target {
        let socket: any Channel
        let address: SocketAddress
    }

    /// Paced sending: at most `burstBytes` every `burstInterval` (64 KB / 8 ms ≈ 64 Mbit/s).
    static let burstBytes = 64 << 10
    static let burstInterval = TimeAmount.milliseconds(8)
    /// Queued beyond this (a stream faster than the pace), the player skips to the next key frame.
    static let maxBacklogBytes = 8 << 20

    /// By interleaved channel.
    private let targets: [UInt8: Target]
    private let sockets: [any Channel]
    private let eventLoop: any EventLoop
    private let logger: Logger
    /// Closes the RTSP connection (the session goes with it).
    private let closeSession: () -> Void
    private var waitingForKey = false
    /// A ring: the pace drains from the front (an array would shift on every removal).
    private var backlog = CircularBuffer<ByteBuffer>()
    private var backlogBytes = 0
    private var pump: Scheduled<Void>?
    private var stopped = false
    private(set) var datagramsSent: UInt64 = 0
    private(set) var bytesSent: UInt64 = 0
    private(set) var segmentsDropped: UInt64 = 0

    init(targets: [UInt8: Target], eventLoop: any EventLoop, logger: Logger, closeSession: @escaping () -> Void) {
        self.targets = targets
        var sockets: [any Channel] = []
        for t in targets.values where !sockets.contains(where: { $0 === t.socket }) { sockets.append(t.socket) }
        self.sockets = sockets
        self.eventLoop = eventLoop
        self.logger = logger
        self.closeSession = closeSession
    }

    func start(_ startup: StartupBytes) {
        waitingForKey = startup.segments.first?.startsWithKeyFrame != true
        guard !waitingForKey else { return }
        for segment in startup.segments { enqueue(segment.bytes) }
        sendPaced()
    }

    func deliver(_ segment: Segment) {
        guard !stopped else { return }
        if waitingForKey {
            guard segment.startsWithKeyFrame else { segmentsDropped &+= 1; return }
            waitingForKey = false
        }
        // A socket that cannot take more, or a backlog the pace cannot drain, means the host is
        // overloaded: skip to the next key frame rather than queue without bound.
        if sockets.contains(where: { !$0.isWritable }) || backlogBytes > Self.maxBacklogBytes {
            dropBacklog()
            waitingForKey = true
            segmentsDropped &+= 1
            logger.debug("UDP player cannot keep up; skipping to the next key frame")
            return
        }
        if backlog.isEmpty {
            var bytes = segment.bytes
            sendFrames(&bytes, budget: .max)
        } else {
            enqueue(segment.bytes)
        }
    }

    func sourceEnded(byes: ByteBuffer) {
        var bytes = byes
        sendFrames(&bytes, budget: .max)
        stop()
        closeSession()
    }

    func kick(reason: String, byes: ByteBuffer) {
        logger.info("closing RTSP/UDP player: \(reason)")
        var bytes = byes
        if !stopped { sendFrames(&bytes, budget: .max) }
        stop()
        closeSession()
    }

    func stop() {
        stopped = true
        dropBacklog()
    }

    var pendingBytes: Int {
        backlogBytes + sockets.reduce(0) { $0 + ((try? $1.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0) }
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
            budget = sendFrames(&backlog[offset: 0], budget: budget)
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

    /// Sends whole frames from `bytes` while `budget` lasts; returns what is left of it.
    @discardableResult
    private func sendFrames(_ bytes: inout ByteBuffer, budget: Int) -> Int {
        var budget = budget
        while budget > 0, let (channel, packet) = Interleaved.readFrame(from: &bytes) {
            budget -= packet.readableBytes
            guard let target = targets[channel] else { continue }
            target.socket.write(AddressedEnvelope(remoteAddress: target.address, data: packet), promise: nil)
            datagramsSent &+= 1
            bytesSent &+= UInt64(packet.readableBytes)
        }
        for socket in sockets { socket.flush() }
        return budget
    }
}
