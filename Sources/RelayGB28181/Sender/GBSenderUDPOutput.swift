import NIOCore
import RelayCore
import RelayRTP

/// Sends a UDP sender's segments as datagrams: each RFC 4571 framed packet of the shared segment
/// goes, as a slice (no copy), to the destination. Confined to the socket's event loop.
///
/// The cached GOP a sender starts with is paced, not sent in one burst (UDP has no flow control;
/// a burst bigger than the peer's receive buffer is lost). Live segments queue behind it. A
/// socket that cannot take more, or a backlog over its bound, skips to the next key frame.
final class GBSenderUDPOutput {
    /// At most `burstBytes` every `burstInterval` while a backlog drains (≈ 64 Mbit/s).
    static let burstBytes = 64 << 10
    static let burstInterval = TimeAmount.milliseconds(8)
    static let maxBacklogBytes = 8 << 20

    private let socket: any Channel
    private let target: SocketAddress
    private var waitingForKey = false
    private var backlog = CircularBuffer<ByteBuffer>()
    private var backlogBytes = 0
    private var pump: Scheduled<Void>?
    private var stopped = false
    private(set) var packetsSent: UInt64 = 0
    private(set) var bytesSent: UInt64 = 0
    private(set) var segmentsDropped: UInt64 = 0

    init(socket: any Channel, target: SocketAddress) {
        self.socket = socket
        self.target = target
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
        if !socket.isWritable || backlogBytes > Self.maxBacklogBytes {
            dropBacklog()
            waitingForKey = true
            segmentsDropped &+= 1
            return
        }
        if backlog.isEmpty {
            var bytes = segment.bytes
            sendFrames(&bytes, budget: .max)
        } else {
            enqueue(segment.bytes)
        }
    }

    func stop() {
        stopped = true
        dropBacklog()
    }

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
        let bound = NIOLoopBound(self, eventLoop: socket.eventLoop)
        pump = socket.eventLoop.scheduleTask(in: Self.burstInterval) { bound.value.sendPaced() }
    }

    /// Sends whole frames from `bytes` while `budget` lasts; returns what is left of it. A frame
    /// that is incomplete (never written so by the muxer) ends the segment.
    @discardableResult
    private func sendFrames(_ bytes: inout ByteBuffer, budget: Int) -> Int {
        var budget = budget
        while budget > 0, let length = bytes.getInteger(at: bytes.readerIndex, as: UInt16.self),
              let packet = bytes.getSlice(at: bytes.readerIndex + 2, length: Int(length)) {
            bytes.moveReaderIndex(forwardBy: 2 + Int(length))
            budget -= packet.readableBytes
            socket.write(AddressedEnvelope(remoteAddress: target, data: packet), promise: nil)
            packetsSent &+= 1
            bytesSent &+= UInt64(packet.readableBytes)
        }
        if bytes.readableBytes > 0 && budget > 0 { bytes.moveReaderIndex(forwardBy: bytes.readableBytes) }
        socket.flush()
        return budget
    }
}
