/// Where a cascade sender is in its life.
public enum GBSenderState: String, Sendable, CaseIterable {
    /// tcp-active: dialling the platform.
    case connecting
    /// tcp-passive: waiting for the platform to connect.
    case listening
    case sending
    case stopped
}

/// A cascade sender as the admin API and a facade show it.
public struct GBSenderInfo: Sendable, Equatable {
    public var id: UInt64
    public var stream: String
    public var ssrc: UInt32
    public var mode: GBMode
    public var dest: String?
    public var payloadType: UInt8
    public var audioOnly: Bool
    public var state: GBSenderState
    /// udp: the port packets leave from; tcp-active: the one it connects from (nil until
    /// connected unless asked for); tcp-passive: the one the platform connects to.
    public var localPort: Int?
    /// The platform's address once sending.
    public var peer: String?
    /// Why it stopped.
    public var reason: String?
    public var bytesSent: UInt64
    public var packetsSent: UInt64
    public var segmentsDropped: UInt64
    /// Since it was started.
    public var seconds: Double

    /// The SSRC as GB28181 writes it: ten decimal digits.
    public var ssrcString: String { GBSSRC.format(ssrc) }
}
