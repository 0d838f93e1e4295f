import RelayCore

/// `jt1078` section of config.json (README lists every key).
public struct JT1078Config: ConfigSection {
    public static let key = "jt1078"

    public var enabled: Bool
    public var host: String
    /// The main port (0 = any free port, for tests).
    public var port: Int
    /// Layout on the main port: "auto" (detected per connection), "2016" or "2019".
    public var version: String
    /// A second port pinned to the 2019 layout (0 = off).
    public var port2019: Int
    /// Stream ids `{sim}/{channel}` without the SIM's zero padding ("013912345678" → "13912345678"),
    /// so a terminal has the same id in both layouts.
    public var stripLeadingZeros: Bool
    /// A connection that publishes no stream and sends no valid package for this long is closed
    /// (0 = never). Streams themselves time out by `source.receive_timeout_ms`.
    public var receiveTimeoutMs: Int
    /// Largest package body accepted (the standard says 950); longer ones are invalid.
    public var maxBodyBytes: Int
    /// Largest frame reassembled from packages; a larger one is dropped.
    public var maxFrameBytes: Int
    /// Streams (SIM + channel) one connection may carry.
    public var maxStreamsPerConnection: Int
    /// How G.726 code words sit in a byte: "le" (RFC 3551, what terminals send) or "be" (AAL2).
    public var g726Packing: String
    /// G.726 bit rate: 0 = inferred from frame size and timestamps ("auto" in the file), else
    /// 16000, 24000, 32000 or 40000.
    public var g726BitRate: Int
    /// IMA ADPCM nibble order: "auto" (detected), "low-first" (WAV) or "high-first" (DVI).
    public var adpcmNibbles: String

    public static let defaults = Self.parsedDefaults

    public init(reading r: inout ConfigReader) throws {
        enabled = try r.bool("enabled", default: true)
        host = try r.string("host", default: "0.0.0.0")
        port = try r.int("port", default: 1078, in: 0...65535)
        version = try r.string("version", default: "auto", oneOf: ["auto", "2016", "2019"])
        port2019 = try r.int("port_2019", default: 0, in: 0...65535)
        stripLeadingZeros = try r.bool("strip_leading_zeros", default: true)
        receiveTimeoutMs = try r.int("receive_timeout_ms", default: 15_000, in: 0...3_600_000)
        maxBodyBytes = try r.int("max_body_bytes", default: 950, in: 950...65535)
        maxFrameBytes = try r.int("max_frame_bytes", default: 4 << 20, in: (64 << 10)...(64 << 20))
        maxStreamsPerConnection = try r.int("max_streams_per_connection", default: 64, in: 1...1024)
        g726Packing = try r.string("g726_packing", default: "le", oneOf: G726Decoder.Packing.allCases.map(\.rawValue))
        switch r.value("g726_bitrate") {
        case nil, .string("auto")?:
            g726BitRate = 0
        case .number(let n)? where Int(exactly: n).flatMap(G726Decoder.bitsPerSample(bitRate:)) != nil:
            g726BitRate = Int(exactly: n) ?? 0
        default:
            throw r.error("g726_bitrate", "must be \"auto\", 16000, 24000, 32000 or 40000")
        }
        adpcmNibbles = try r.string("adpcm_nibbles", default: "auto",
                                    oneOf: ["auto"] + IMAADPCMDecoder.NibbleOrder.allCases.map(\.rawValue))
        if port2019 != 0 && port2019 == port {
            throw r.error("port_2019", "must differ from port (\(port))")
        }
    }
}

extension JT1078Config {
    /// The audio keys as the stream demuxer takes them.
    public var audio: JT1078AudioSettings {
        JT1078AudioSettings(g726Packing: G726Decoder.Packing(rawValue: g726Packing) ?? .le,
                            g726BitRate: g726BitRate == 0 ? nil : g726BitRate,
                            adpcmNibbles: IMAADPCMDecoder.NibbleOrder(rawValue: adpcmNibbles))
    }
}

extension RelayConfig {
    public var jt1078: JT1078Config {
        get { self[JT1078Config.self] }
        set { self[JT1078Config.self] = newValue }
    }
}
