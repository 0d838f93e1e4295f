/// Acknowledgement bookkeeping (spec 5.4.3): counts the bytes received and says when the peer's
/// window is used up. Some encoders and servers stall without acks. Shared by the server's and
/// the camera's RTMP sessions.
public struct Acknowledgements: Sendable {
    private var bytesIn: UInt64 = 0
    private var lastAck: UInt64 = 0
    private var window: UInt64 = 2_500_000
    /// The smallest window a peer's Window Acknowledgement Size may set.
    private let minimumWindow: UInt32

    public init(minimumWindow: UInt32) {
        self.minimumWindow = minimumWindow
    }

    public mutating func received(_ bytes: Int) {
        bytesIn &+= UInt64(truncatingIfNeeded: bytes)
    }

    /// The peer's Window Acknowledgement Size.
    public mutating func setWindow(_ size: UInt32) {
        window = UInt64(max(size, minimumWindow))
    }

    /// The acknowledgement to send now, if a window's worth arrived since the last one.
    public mutating func due() -> RTMPMessage? {
        guard bytesIn &- lastAck >= window else { return nil }
        lastAck = bytesIn
        return .acknowledgement(sequenceNumber: UInt32(truncatingIfNeeded: bytesIn))
    }
}
