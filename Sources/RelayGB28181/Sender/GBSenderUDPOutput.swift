import NIOCore
import RelayCore
import RelayRTP

/// Sends a UDP sender's segments as datagrams: each RFC 4571 framed packet of the shared segment
/// goes, as a slice (no copy), to the destination, paced (`DatagramPacer`: the cached GOP is not
/// sent in one burst; a socket or backlog that cannot keep up skips to the next key frame).
/// Confined to the socket's event loop.
final class GBSenderUDPOutput {
    private let socket: any Channel
    private let target: SocketAddress
    private var pacer: DatagramPacer?
    private(set) var packetsSent: UInt64 = 0
    private(set) var bytesSent: UInt64 = 0
    var segmentsDropped: UInt64 { pacer?.segmentsDropped ?? dropped }

    init(socket: any Channel, target: SocketAddress) {
        self.socket = socket
        self.target = target
        let bound = NIOLoopBound(self, eventLoop: socket.eventLoop)
        pacer = DatagramPacer(eventLoop: socket.eventLoop, isWritable: { socket.isWritable }) { bytes, budget in
            bound.value.sendFrames(&bytes, budget: budget)
        }
    }

    func start(_ startup: StartupBytes) { pacer?.start(startup) }

    func deliver(_ segment: Segment) { pacer?.deliver(segment) }

    private var dropped: UInt64 = 0

    func stop() {
        dropped = pacer?.segmentsDropped ?? dropped
        pacer?.stop()
        pacer = nil  // its closure holds this output
    }

    /// Sends whole frames from `bytes` while `budget` lasts; returns what is left of it. A frame
    /// that is incomplete (never written so by the muxer) ends the segment.
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
