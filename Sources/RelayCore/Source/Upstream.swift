import NIOCore

/// What a pull client session (RTSP, RTMP or HTTP-FLV, bringing a stream from elsewhere) tells
/// the pull that owns it, always on the session's event loop.
public protocol UpstreamEvents: AnyObject {
    /// One demuxed event, in order: the tracks and their configuration come before media.
    func upstream(_ event: MediaEvent)
    /// The session ended: closed by the peer, a timeout, bad input or `close()`. Called once.
    func upstreamEnded(_ reason: String)
}

/// One live pull client session; the pull keeps it on its event loop.
public protocol Upstream: AnyObject {
    /// "rtsp 10.0.0.5:554": the Source's publisher address and log lines.
    var remoteAddress: String { get }
    /// Ends the session (TEARDOWN / deleteStream when it can) and closes its connection; on the
    /// session's loop. `upstreamEnded` follows.
    func close()
}

/// The time limits of a pull client session.
public struct UpstreamTimeouts: Sendable {
    /// Connect, handshake and the answer to play.
    public var connect: TimeAmount
    /// No media for this long ends the session.
    public var receive: TimeAmount

    public init(connect: TimeAmount, receive: TimeAmount) {
        self.connect = connect
        self.receive = receive
    }
}
