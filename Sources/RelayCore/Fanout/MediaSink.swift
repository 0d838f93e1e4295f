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
}
