import RelayCore

/// `rtsp` section of config.json (README lists every key).
public struct RTSPConfig: ConfigSection {
    public static let key = "rtsp"

    public var listener: RelayConfig.Listener
    /// UDP players get a server port pair per track from this range (RTP even, RTCP odd).
    public var udpPortMin: Int
    public var udpPortMax: Int
    /// A session without requests or RTCP for this long is closed (a TCP player that is
    /// playing lives as long as its connection).
    public var sessionTimeoutMs: Int
    /// A connection whose first request is not complete this long after connecting is closed (slowloris).
    public var requestTimeoutMs: Int
    /// Longest request line + headers of any request; longer is answered 400 and closed.
    public var maxHeaderBytes: Int

    public init(reading r: inout ConfigReader) throws {
        listener = try r.listener(port: 8554)
        udpPortMin = try r.int("udp_port_min", default: 30000, in: 1024...65534)
        udpPortMax = try r.int("udp_port_max", default: 39999, in: 1025...65535)
        sessionTimeoutMs = try r.int("session_timeout_ms", default: 60_000, in: 1000...3_600_000)
        requestTimeoutMs = try r.int("request_timeout_ms", default: 10_000, in: 100...600_000)
        maxHeaderBytes = try r.int("max_header_bytes", default: 16 << 10, in: 1024...(1 << 20))
        if udpPortMax <= udpPortMin {
            throw r.error("udp_port_max", "must be above udp_port_min (\(udpPortMin)): ports go in RTP/RTCP pairs")
        }
    }

    public static let defaults = Self.parsedDefaults
}

extension RelayConfig {
    public var rtsp: RTSPConfig {
        get { self[RTSPConfig.self] }
        set { self[RTSPConfig.self] = newValue }
    }
}
