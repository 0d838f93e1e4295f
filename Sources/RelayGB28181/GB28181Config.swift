import RelayCore
import RelayRTP

/// `gb28181` section of config.json (README lists every key).
public struct GB28181Config: ConfigSection {
    public static let key = "gb28181"

    /// A receiver opened at start-up (the admin API opens the others).
    public struct Receiver: Sendable, Equatable {
        public var stream: String
        /// Ten decimal digits as GB28181 writes them ("0100000001"); nil: any SSRC (own port only).
        public var ssrc: UInt32?
        /// "udp", "tcp-passive" or "tcp-active".
        public var mode: String
        /// 0: the shared port of the mode; otherwise a port of its own.
        public var port: Int
        /// tcp-active: the device's "host:port" that the server dials.
        public var device: String

        public init(stream: String, ssrc: UInt32?, mode: String, port: Int, device: String) {
            self.stream = stream
            self.ssrc = ssrc
            self.mode = mode
            self.port = port
            self.device = device
        }
    }

    public var enabled: Bool
    public var host: String
    /// One UDP port for many devices, told apart by SSRC: -1 off, 0 any free port (tests).
    public var sharedUDPPort: Int
    /// One TCP port devices connect to (tcp-passive), told apart by the SSRC of their first
    /// packet: -1 off, 0 any free port.
    public var sharedTCPPort: Int
    /// Receivers opened with a port of their own get one from this range.
    public var portMin: Int
    public var portMax: Int
    /// UDP: the most packets held back behind a gap (a bound on memory; gaps are given up by
    /// time, `reorderMs`, before that in practice).
    public var reorderWindow: Int
    /// UDP: how long a packet that arrived ahead of a gap is held for it; 0 = by count only.
    /// The first packets of a stream are held half as long (at most 50 ms) to find its start.
    public var reorderMs: Int
    /// Where video resumes after a lost packet.
    public var lossPolicy: VideoLossPolicy
    /// tcp-active: interval between attempts to reach the device.
    public var connectRetryMs: Int
    /// UDP: a stream is pinned to the address (ip:port) of its first packet; packets with its
    /// SSRC from elsewhere are dropped and counted, unless the pinned address has sent nothing
    /// for this long (a camera behind a NAT that rebinds, or one that restarted): then the
    /// stream moves to the new address. A live camera sends many packets a second, so a spoofer
    /// can only take over a stream that has been silent this long.
    public var repinAfterMs: Int
    public var receivers: [Receiver]
    /// Cascade senders running at once, at most.
    public var maxSenders: Int
    /// A receiver opened by the API that gets no media this long after it opened (and is not
    /// check-paused) closes and fires `on_receiver_timeout`: a platform's INVITE that never
    /// brought media frees its port. 0 = off.
    public var receiverTimeoutMs: Int

    public static let defaults = Self.parsedDefaults

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: true)
        host = try r.string("host", default: "0.0.0.0")
        sharedUDPPort = try r.int("shared_udp_port", default: 10000, in: -1...65535)
        sharedTCPPort = try r.int("shared_tcp_port", default: 10000, in: -1...65535)
        portMin = try r.int("port_min", default: 40000, in: 1024...65535)
        portMax = try r.int("port_max", default: 40999, in: 1024...65535)
        reorderWindow = try r.int("reorder_window", default: 512, in: 0...4096)
        reorderMs = try r.int("reorder_ms", default: 100, in: 0...5000)
        let policy = try r.string("loss_policy", default: VideoLossPolicy.nextFrame.rawValue,
                                  oneOf: VideoLossPolicy.allCases.map(\.rawValue))
        lossPolicy = VideoLossPolicy(rawValue: policy) ?? .nextFrame
        connectRetryMs = try r.int("connect_retry_ms", default: 2000, in: 100...60_000)
        repinAfterMs = try r.int("repin_after_ms", default: 3000, in: 100...3_600_000)
        maxSenders = try r.int("max_senders", default: 256, in: 0...100_000)
        receiverTimeoutMs = try r.int("receiver_timeout_ms", default: 0, in: 0...3_600_000)
        receivers = []
        if portMax < portMin {
            throw r.error("port_max", "must not be below port_min (\(portMin))")
        }
        switch r.value("receivers") {
        case nil, .null?:
            break
        case .array(let items)?:
            for (i, item) in items.enumerated() {
                receivers.append(try receiver(item, key: "receivers[\(i)]", in: r))
            }
        case let other?:
            throw r.error("receivers", "expected an array of receivers, got \(other.typeDescription)")
        }
    }

    /// One entry of `receivers`, checked against the entries before it.
    private func receiver(_ item: JSONValue, key: String, in r: ConfigReader) throws -> Receiver {
        guard case .object(let object) = item else {
            throw r.error(key, "expected an object {\"stream\", \"ssrc\", \"mode\", \"port\", \"device\"}, got \(item.typeDescription)")
        }
        var o = r.nested(key, object)
        let stream = try o.string("stream", default: "")
        let ssrcText = try o.string("ssrc", default: "")
        let mode = try o.string("mode", default: "udp", oneOf: ["udp", "tcp-passive", "tcp-active"])
        let port = try o.int("port", default: 0, in: 0...65535)
        let device = try o.string("device", default: "")
        try o.rejectUnknownKeys()
        guard isValidStreamID(stream) else {
            throw o.error("stream", "'\(stream)' is not a valid stream id (app/stream: letters, digits, -_.~)")
        }
        var ssrc: UInt32?
        if !ssrcText.isEmpty {
            guard ssrcText.count <= 10, ssrcText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let v = UInt64(ssrcText), v <= UInt64(UInt32.max) else {
                throw o.error("ssrc", "'\(ssrcText)' is not an SSRC (up to ten decimal digits, at most 4294967295)")
            }
            ssrc = UInt32(v)
        }
        if mode == "tcp-active" {
            guard device.contains(":") else { throw o.error("device", "tcp-active needs the device's \"host:port\"") }
        } else if port == 0 && ssrc == nil {
            throw o.error("ssrc", "a receiver on the shared port needs an SSRC (or give it a port of its own)")
        }
        if receivers.contains(where: { $0.stream == stream }) {
            throw o.error("stream", "\(stream) has two receivers")
        }
        if let ssrc, receivers.contains(where: { $0.ssrc == ssrc }) {
            throw o.error("ssrc", "\(ssrcText) is used by two receivers")
        }
        return Receiver(stream: stream, ssrc: ssrc, mode: mode, port: port, device: device)
    }
}

extension RelayConfig {
    public var gb28181: GB28181Config {
        get { self[GB28181Config.self] }
        set { self[GB28181Config.self] = newValue }
    }
}
