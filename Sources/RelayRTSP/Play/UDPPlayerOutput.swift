import Logging
import NIOCore
import RelayCore
import RelayRTP

/// Sends a player's segments as UDP datagrams: each interleaved-framed packet of the shared
/// segment goes, as a slice (no copy), from the server socket of its channel to the client port
/// of its channel, paced (`DatagramPacer`: the cached GOP is not sent in one burst; sockets or a
/// backlog that cannot keep up skip to the next key frame). Confined to the RTSP connection's
/// event loop, where the sockets live.
final class UDPPlayerOutput {
    struct Target {
        let socket: any Channel
        let address: SocketAddress
    }

    /// By interleaved channel.
    private let targets: [UInt8: Target]
    private let sockets: [any Channel]
    private let logger: Logger
    /// Closes the RTSP connection (the session goes with it).
    private let closeSession: () -> Void
    private var pacer: DatagramPacer?
    private(set) var datagramsSent: UInt64 = 0
    private(set) var bytesSent: UInt64 = 0
    private var dropped: UInt64 = 0
    var segmentsDropped: UInt64 { pacer?.segmentsDropped ?? dropped }

    init(targets: [UInt8: Target], eventLoop: any EventLoop, logger: Logger, closeSession: @escaping () -> Void) {
        self.targets = targets
        var sockets: [any Channel] = []
        for t in targets.values where !sockets.contains(where: { $0 === t.socket }) { sockets.append(t.socket) }
        self.sockets = sockets
        self.logger = logger
        self.closeSession = closeSession
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        pacer = DatagramPacer(eventLoop: eventLoop, isWritable: { sockets.allSatisfy(\.isWritable) }) { bytes, budget in
            bound.value.sendFrames(&bytes, budget: budget)
        }
    }

    func start(_ startup: StartupBytes) { pacer?.start(startup) }

    func deliver(_ segment: Segment) {
        if pacer?.deliver(segment) == false { logger.debug("UDP player cannot keep up; skipping to the next key frame") }
    }

    func sourceEnded(byes: ByteBuffer) {
        pacer?.sendNow(byes)
        stop()
        closeSession()
    }

    func kick(reason: String, byes: ByteBuffer) {
        logger.info("closing RTSP/UDP player: \(reason)")
        pacer?.sendNow(byes)
        stop()
        closeSession()
    }

    func stop() {
        dropped = pacer?.segmentsDropped ?? dropped
        pacer?.stop()
        pacer = nil  // its closure holds this output
    }

    var pendingBytes: Int {
        (pacer?.backlogBytes ?? 0)
            + sockets.reduce(0) { $0 + ((try? $1.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0) }
    }

    /// Sends whole frames from `bytes` while `budget` lasts; returns what is left of it.
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
