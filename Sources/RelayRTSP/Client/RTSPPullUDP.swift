import NIOCore
import NIOPosix

/// The UDP sockets of one pulled track: RTP on an even port, RTCP on the next one (RFC 3550 §11).
/// Datagrams from any address but the camera's are dropped, so nobody else can inject media.
struct RTSPPullUDPPair {
    let rtp: any Channel
    let rtcp: any Channel
    var rtpPort: Int { rtp.localAddress?.port ?? 0 }

    func close() {
        rtp.close(promise: nil)
        rtcp.close(promise: nil)
    }

    /// Binds a pair on 127.0.0.1 or the wildcard address (as `host` says) on `loop`; `receive`
    /// gets each datagram from `camera`'s IP (true: RTCP). Tries up to 16 random even ports.
    static func bind(host: String, camera: String, on loop: any EventLoop, attempts: Int = 16,
                     receive: @escaping @Sendable (ByteBuffer, Bool) -> Void) -> EventLoopFuture<RTSPPullUDPPair> {
        let port = Int.random(in: 10_000...30_000) * 2
        let pair = bootstrap(loop, camera: camera, rtcp: false, receive).bind(host: host, port: port).flatMap { rtp in
            bootstrap(loop, camera: camera, rtcp: true, receive).bind(host: host, port: port + 1)
                .map { RTSPPullUDPPair(rtp: rtp, rtcp: $0) }
                .flatMapErrorThrowing { error in
                    rtp.close(promise: nil)
                    throw error
                }
        }
        guard attempts > 1 else { return pair }
        return pair.flatMapError { _ in
            bind(host: host, camera: camera, on: loop, attempts: attempts - 1, receive: receive)
        }
    }

    private static func bootstrap(_ loop: any EventLoop, camera: String, rtcp: Bool,
                                  _ receive: @escaping @Sendable (ByteBuffer, Bool) -> Void) -> DatagramBootstrap {
        DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RTSPPullDatagramHandler(camera: camera, rtcp: rtcp, receive: receive))
                }
            }
    }
}

/// Hands a track's datagrams from the camera to the pull.
private final class RTSPPullDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let camera: String
    private let rtcp: Bool
    private let receive: @Sendable (ByteBuffer, Bool) -> Void

    init(camera: String, rtcp: Bool, receive: @escaping @Sendable (ByteBuffer, Bool) -> Void) {
        self.camera = camera
        self.rtcp = rtcp
        self.receive = receive
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress.ipAddress == camera else { return }
        receive(envelope.data, rtcp)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like: the TCP session decides when the pull ends.
    }
}
