import NIOCore

/// Why a tcp-passive connection was refused (the channel initializer's error closes it).
enum GBSenderRefusal: Error {
    case busy
    case wrongPeer
}

/// Reads nothing the platform sends (RTCP, keep-alives) and reports when a TCP connection ends
/// (`onEnd`; without one, a UDP socket, errors such as an ICMP unreachable are ignored).
final class GBSenderPeerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let onActive: (() -> Void)?
    private let onEnd: ((String) -> Void)?
    private var reported = false

    init(onActive: (() -> Void)? = nil, onEnd: ((String) -> Void)? = nil) {
        self.onActive = onActive
        self.onEnd = onEnd
    }

    func channelActive(context: ChannelHandlerContext) {
        onActive?()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        report("the peer closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard onEnd != nil else { return }
        report("connection error: \(error)")
        context.close(promise: nil)
    }

    private func report(_ why: String) {
        guard !reported else { return }
        reported = true
        onEnd?(why)
    }
}
