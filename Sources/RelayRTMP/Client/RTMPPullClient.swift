import Logging
import NIOCore
import NIOPosix
import RelayCore

/// Why an RTMP pull could not start.
public struct RTMPPullError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// An RTMP play session pulling a stream from another server (nginx-rtmp, an origin relay):
/// handshake, connect, createStream, play; its media as `MediaEvent`s to `events`.
public final class RTMPPullClient: Upstream, Sendable {
    public let remoteAddress: String
    private let channel: any Channel
    private let handler: NIOLoopBound<RTMPPullHandler>

    private init(channel: any Channel, handler: NIOLoopBound<RTMPPullHandler>) {
        self.channel = channel
        self.handler = handler
        remoteAddress = "rtmp \(channel.remoteAddress?.displayString ?? "?")"
    }

    /// rtmp://host[:port]/app/stream[?query] (app = first path segment, stream name = the rest with
    /// its query). Call on `loop`, a SwiftNIO event loop. The future succeeds at NetStream.Play.Start
    /// (or the first media) within `timeouts.connect`; it fails with an `RTMPPullError` saying why
    /// (refused, StreamNotFound, timeout …), and then `events` hears nothing. After success every
    /// event comes on `loop`, and `upstreamEnded` once at the end.
    public static func connect(url: String, on loop: any EventLoop, timeouts: UpstreamTimeouts, logger: Logger,
                               events: any UpstreamEvents) -> EventLoopFuture<RTMPPullClient> {
        loop.preconditionInEventLoop()
        guard let target = RTMPURL(url) else {
            return loop.makeFailedFuture(RTMPPullError("not an rtmp://host[:port]/app/stream URL"))
        }
        let started = loop.makePromise(of: Void.self)
        let handler = NIOLoopBound(RTMPPullHandler(target: target, timeouts: timeouts, events: events,
                                                   started: started, logger: logger), eventLoop: loop)
        let connected = ClientBootstrap(group: loop)
            .connectTimeout(timeouts.connect)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: target.host, port: target.port)
        connected.whenFailure { error in
            started.fail(RTMPPullError("cannot connect to \(target.host):\(target.port): \(error)"))
        }
        return connected.flatMap { channel in
            started.futureResult.map { RTMPPullClient(channel: channel, handler: handler) }
        }
    }

    /// deleteStream, then the connection closes; `upstreamEnded` follows.
    public func close() {
        if channel.eventLoop.inEventLoop {
            handler.value.stop()
        } else {
            let handler = handler
            channel.eventLoop.execute { handler.value.stop() }
        }
    }
}
