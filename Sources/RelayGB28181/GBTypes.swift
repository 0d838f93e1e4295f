import Foundation
import NIOCore
import RelayCore

/// How media reaches a receiver. Names are the platform's view, as GB28181 SDP uses them.
public enum GBMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// RTP datagrams.
    case udp
    /// The device connects to us (RFC 4571 framing).
    case tcpPassive = "tcp-passive"
    /// We connect to the device's address (RFC 4571 framing).
    case tcpActive = "tcp-active"

    public var description: String { rawValue }
    public var isTCP: Bool { self != .udp }
}

/// Which local port a receiver uses (tcp-active: which it dials from; `.shared` there: any).
public enum GBPort: Sendable, Equatable {
    /// The shared UDP or TCP port of its mode; packets are told apart by SSRC.
    case shared
    /// A free port from `gb28181.port_min…port_max`.
    case fromRange
    /// This port.
    case fixed(Int)
}

public enum GBReceiverState: String, Sendable, CaseIterable {
    /// Open; no media yet (or none since the last source ended). A tcp-active receiver is
    /// dialing its device meanwhile.
    case waiting
    /// The first packet arrived; publish admission (on_publish, duplicate policy) is deciding.
    case admitting
    /// Media is flowing into a source.
    case receiving
}

/// What a receiver's sessions counted: RTP packets by fate, frames by fate.
public struct GBReceiverCounters: Sendable, Equatable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    /// Sequence numbers never received (given up after `reorder_ms`).
    public var lost: UInt64 = 0
    /// Arrived after their position was given up as lost.
    public var late: UInt64 = 0
    public var duplicates: UInt64 = 0
    /// Arrived out of order and were put back in order.
    public var reordered: UInt64 = 0
    /// The sender's sequence numbers restarted (a reboot) or jumped.
    public var resyncs: UInt64 = 0
    public var videoFrames: UInt64 = 0
    public var audioFrames: UInt64 = 0
    /// Video frames not delivered: incomplete (data lost) or, with `loss_policy`
    /// `next_key_frame`, waiting for a key frame.
    public var framesDropped: UInt64 = 0

    public init() {}

    static func + (a: Self, b: Self) -> Self {
        var c = a
        c.packets &+= b.packets
        c.bytes &+= b.bytes
        c.lost &+= b.lost
        c.late &+= b.late
        c.duplicates &+= b.duplicates
        c.reordered &+= b.reordered
        c.resyncs &+= b.resyncs
        c.videoFrames &+= b.videoFrames
        c.audioFrames &+= b.audioFrames
        c.framesDropped &+= b.framesDropped
        return c
    }
}

/// A receiver as the admin API shows it.
public struct GBReceiverInfo: Sendable, Equatable {
    public var streamID: String
    public var ssrc: UInt32?
    public var mode: GBMode
    /// Local port (shared or own); for TCP active, the device's port.
    public var port: Int?
    public var sharedPort: Bool
    public var state: GBReceiverState
    /// From config (reopened on start, back to waiting when its source ends) or opened by the API
    /// (closed when its source ends).
    public var isStatic: Bool
    /// The current session's peer ("ip:port"); nil while waiting.
    public var remoteAddress: String?
    /// The id its last session published under when the on_publish answer renamed the stream
    /// (`stream_replace`); nil when it kept `streamID`. Either name finds the receiver.
    public var publishedAs: String?
    /// The no-media checks are paused (`setCheckPaused`): no receiver timeout, no source receive
    /// timeout (a playback the platform paused).
    public var checkPaused = false
    /// RTP packets by fate and frames by fate, over all its sessions.
    public var counters = GBReceiverCounters()
    public var packets: UInt64 { counters.packets }
    public var bytes: UInt64 { counters.bytes }
    /// RTP sequence numbers never received.
    public var lost: UInt64 { counters.lost }
    /// Sources this receiver has started (one per stretch of media).
    public var sessions: UInt64
    /// UDP packets with this receiver's SSRC from an address other than the stream's pinned one
    /// (dropped: injection, or a second device misconfigured with the same SSRC).
    public var foreignPackets: UInt64 = 0
    /// Malformed program stream data dropped on UDP (the parser resynchronised; the stream went on).
    public var malformedPackets: UInt64 = 0
    /// The stream moved to a new source address after the old one fell silent.
    public var repins: UInt64 = 0
    /// When `state` began.
    public var since = Date()
    /// tcp-active: the device's host, which the server dials (nil until `connect` names it).
    public var deviceHost: String?
    /// This server's port for the receiver: the one it receives on (shared or own), or for
    /// tcp-active the one it dials from (nil unless opened with `.fromRange` / `.fixed`).
    public var localPort: Int? = nil

    /// The SSRC as GB28181 writes it: ten decimal digits.
    public var ssrcString: String? { ssrc.map(GBSSRC.format) }
}

public enum GBError: Error, Sendable, Equatable, CustomStringConvertible {
    case disabled
    case notStarted
    case invalidStreamID(String)
    case duplicateStream(String)
    /// Another publisher holds the id and the duplicate policy keeps it; `holder` names it
    /// ("rtmp 10.0.0.9:5000").
    case streamPublished(String, holder: String)
    case duplicateSSRC(String)
    case ssrcRequired(GBMode)
    case noSharedPort(GBMode)
    case deviceAddressRequired
    case invalidDeviceAddress(String)
    case notForActive
    case noFreePort(min: Int, max: Int)
    case invalidSSRC(String)
    case bindFailed(Int, String)
    /// No receiver has this stream id or published name.
    case noReceiver(String)
    /// `connect` names the device of a tcp-active receiver only.
    case notTCPActive(String)
    /// A tcp-active receiver receiving from one device cannot be pointed at another.
    case receiving(String, from: String)
    case invalidPortRange(String)

    public var description: String {
        switch self {
        case .disabled: return "GB28181 ingest is disabled (gb28181.enabled)"
        case .notStarted: return "GB28181 service is not running"
        case .invalidStreamID(let id): return "invalid stream id '\(id)'"
        case .duplicateStream(let id): return "stream \(id) already has a GB28181 receiver"
        case .streamPublished(let id, let holder): return "stream \(id) is being published by \(holder)"
        case .duplicateSSRC(let s): return "SSRC \(s) is already in use by another receiver"
        case .ssrcRequired(let mode): return "a receiver on the shared \(mode) port needs an SSRC"
        case .noSharedPort(let mode): return "no shared port is configured for \(mode)"
        case .deviceAddressRequired: return "tcp-active needs the device's address (host:port)"
        case .invalidDeviceAddress(let a): return "invalid device address '\(a)' (expected host:port)"
        case .notForActive: return "tcp-active receivers dial the device; they have no local port"
        case .noFreePort(let min, let max): return "no free port in \(min)...\(max)"
        case .invalidSSRC(let s): return "invalid SSRC '\(s)': expected up to ten decimal digits (at most 4294967295)"
        case .bindFailed(let port, let why): return "cannot bind port \(port): \(why)"
        case .noReceiver(let id): return "no GB28181 receiver for \(id)"
        case .notTCPActive(let id): return "receiver \(id) is not tcp-active: only a tcp-active receiver dials a device"
        case .receiving(let id, let from): return "receiver \(id) is receiving from \(from); close it to dial another device"
        case .invalidPortRange(let why): return "invalid port range: \(why)"
        }
    }
}

/// GB28181 writes the SSRC as ten decimal digits: the first is 0 for live and 1 for playback,
/// the next five are the domain, the last four a sequence.
public enum GBSSRC {
    public static func parse(_ text: String) throws(GBError) -> UInt32 {
        let t = text
        guard !t.isEmpty, t.count <= 10, t.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = UInt64(t), value <= UInt64(UInt32.max) else {
            throw .invalidSSRC(text)
        }
        return UInt32(value)
    }

    public static func format(_ ssrc: UInt32) -> String {
        let s = String(ssrc)
        return String(repeating: "0", count: max(0, 10 - s.count)) + s
    }

    /// True for playback/download streams (first digit 1).
    public static func isPlayback(_ ssrc: UInt32) -> Bool { ssrc >= 1_000_000_000 }
}

/// "host:port" or "[v6]:port".
func parseHostPort(_ text: String) -> (host: String, port: Int)? {
    guard let colon = text.lastIndex(of: ":") else { return nil }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
    return (host, port)
}
