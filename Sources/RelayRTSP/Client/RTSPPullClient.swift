import Logging
import NIOCore
import NIOPosix
import RelayCore

public enum RTSPPullTransport: String, Sendable { case tcp, udp }

/// Why an RTSP pull could not start (or ended): the reason, and the camera's status when an answer caused it.
public struct RTSPPullError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// 401 (credentials missing or refused), 404 …; nil for connect failures, timeouts and bad answers.
    public let status: Int?

    public init(_ description: String, status: Int? = nil) {
        self.description = description
        self.status = status
    }
}

/// An RTSP play session pulling a camera (or another server): OPTIONS, DESCRIBE, SETUP of each track we
/// can ingest, PLAY; then its RTP (TCP interleaved or UDP) through `RTPTrackIngest` as `MediaEvent`s.
public final class RTSPPullClient: Upstream, Sendable {
    public let remoteAddress: String
    private let channel: any Channel
    private let handler: NIOLoopBound<RTSPPullHandler>

    private init(channel: any Channel, handler: NIOLoopBound<RTSPPullHandler>) {
        self.channel = channel
        self.handler = handler
        remoteAddress = "rtsp \(channel.remoteAddress?.displayString ?? "?")"
    }

    /// Connects, OPTIONS, DESCRIBE (answering a 401 with Digest (RFC 2617/7616, MD5, qop=auth or none) or Basic,
    /// from the URL's user:password), SETUP of each ingestable track (TCP interleaved or UDP client ports), PLAY.
    /// The future succeeds once PLAY is answered 200; fails with an `RTSPPullError` saying why (connect refused,
    /// 401 after credentials, 404, no ingestable track, timeout, malformed answer). Events then arrive on `loop`.
    /// Call on `loop`.
    public static func connect(url: String, transport: RTSPPullTransport, on loop: any EventLoop,
                               timeouts: UpstreamTimeouts, logger: Logger,
                               events: any UpstreamEvents) -> EventLoopFuture<RTSPPullClient> {
        loop.preconditionInEventLoop()
        guard let target = UpstreamURL(url), target.scheme == .rtsp else {
            return loop.makeFailedFuture(RTSPPullError("not an rtsp://host[:port]/path URL"))
        }
        let started = loop.makePromise(of: Void.self)
        let handler = NIOLoopBound(RTSPPullHandler(target: target, transport: transport, timeouts: timeouts,
                                                   events: events, started: started, logger: logger), eventLoop: loop)
        let connected = ClientBootstrap(group: loop)
            .connectTimeout(timeouts.connect)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(RTSPFrameDecoder()))
                    try sync.addHandler(handler.value)
                }
            }
            .connect(host: target.host, port: target.port)
        // A connect that fails before a channel exists (an unresolvable host) never reaches the
        // handler, which otherwise settles `started`: settle it here (a second completion is ignored).
        let connectFailed: @Sendable (any Error) -> RTSPPullError = { error in RTSPPullError("cannot connect to \(target.host):\(target.port): \(error)") }
        connected.whenFailure { started.fail(connectFailed($0)) }
        return connected.flatMapErrorThrowing { error in
            throw connectFailed(error)
        }.flatMap { channel in
            started.futureResult.map { RTSPPullClient(channel: channel, handler: handler) }
        }
    }

    /// TEARDOWN (best effort), then the connection closes; `upstreamEnded` follows.
    public func close() {
        if channel.eventLoop.inEventLoop {
            handler.value.stop()
        } else {
            let handler = handler
            channel.eventLoop.execute { handler.value.stop() }
        }
    }
}
