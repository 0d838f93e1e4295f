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
    /// A 3xx answer's `Location` (the client follows it).
    let redirect: String?

    public init(_ description: String, status: Int? = nil) {
        self.init(description, status: status, redirect: nil)
    }

    init(_ description: String, status: Int?, redirect: String?) {
        self.description = description
        self.status = status
        self.redirect = redirect
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
    /// A 301/302/303/307/308 to OPTIONS or DESCRIBE is followed on a new connection (at most `maxRedirects`;
    /// the credentials go along only to the same host and port).
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
        return connect(target, transport: transport, on: loop, timeouts: timeouts, logger: logger, events: events, redirects: 0)
    }

    /// Redirects followed for one connect, as curl's and browsers' limits go (a loop ends there).
    public static let maxRedirects = 5

    private static func connect(_ target: UpstreamURL, transport: RTSPPullTransport, on loop: any EventLoop,
                                timeouts: UpstreamTimeouts, logger: Logger, events: any UpstreamEvents,
                                redirects: Int) -> EventLoopFuture<RTSPPullClient> {
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
        // The callbacks below run on `loop` (every future here is its).
        let boundEvents = NIOLoopBound(events, eventLoop: loop)
        return connected.flatMapErrorThrowing { error in
            throw connectFailed(error)
        }.flatMap { channel in
            started.futureResult.map { RTSPPullClient(channel: channel, handler: handler) }
        }.flatMapError { error in
            guard let error = error as? RTSPPullError, let location = error.redirect else { return loop.makeFailedFuture(error) }
            guard redirects < maxRedirects else {
                return loop.makeFailedFuture(RTSPPullError("more than \(maxRedirects) redirects (the last: \(error))", status: error.status))
            }
            guard let next = redirected(to: location, from: target) else {
                return loop.makeFailedFuture(RTSPPullError("\(error), which is not an rtsp:// URL", status: error.status))
            }
            logger.info("rtsp pull \(target.redacted): \(error); following it")
            return connect(next, transport: transport, on: loop, timeouts: timeouts, logger: logger, events: boundEvents.value,
                           redirects: redirects + 1)
        }
    }

    /// Where a `Location` leads: an absolute rtsp:// URL, or a path on the same server. The user
    /// and password go along only to the same host and port (as curl does not hand them to another).
    static func redirected(to location: String, from target: UpstreamURL) -> UpstreamURL? {
        if location.hasPrefix("/") {
            var next = target
            next.path = location
            return next
        }
        guard var next = UpstreamURL(location), next.scheme == .rtsp else { return nil }
        if next.user == nil, next.host == target.host, next.port == target.port {
            next.user = target.user
            next.password = target.password
        }
        return next
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
