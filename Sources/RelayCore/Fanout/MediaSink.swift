import NIOCore

/// Identifies a player for its whole life (admin API, hooks, logs).
public typealias SinkID = UInt64

/// A player of one TransStream. All calls arrive on `eventLoop`, in order: `start` once, then
/// `deliver` for each live segment, then possibly `sourceEnded`.
public protocol MediaSink: AnyObject, Sendable {
    var id: SinkID { get }
    var eventLoop: any EventLoop { get }
    func start(_ startup: StartupBytes)
    func deliver(_ segment: Segment)
    /// The publisher left: finish the player's stream (protocol trailer) and close.
    func sourceEnded()
    /// False for a player that only counts (an HLS session fetches from its segmenter's memory):
    /// it gets `start` and `sourceEnded` but no `deliver`, so a segment costs nothing per such player.
    var receivesSegments: Bool { get }
}

extension MediaSink {
    public var receivesSegments: Bool { true }
}

/// A player as the admin API and hooks see it.
public struct PlayerSnapshot: Sendable {
    public var id: SinkID
    public var kind: OutputKind
    public var session: SessionInfo?
    public var bytesSent: UInt64
    public var pendingBytes: Int
    public var segmentsDropped: UInt64
    /// Seconds since the player attached.
    public var seconds: Double

    public init(id: SinkID, kind: OutputKind, session: SessionInfo?, bytesSent: UInt64, pendingBytes: Int,
                segmentsDropped: UInt64, seconds: Double) {
        self.id = id
        self.kind = kind
        self.session = session
        self.bytesSent = bytesSent
        self.pendingBytes = pendingBytes
        self.segmentsDropped = segmentsDropped
        self.seconds = seconds
    }
}

/// Players that can describe themselves and be kicked (called on the sink's `eventLoop`).
public protocol InspectableSink: MediaSink {
    func snapshot(kind: OutputKind) -> PlayerSnapshot
    /// Closes the player's connection (operator kick).
    func kick(reason: String)
}
