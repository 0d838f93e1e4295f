import RelayCore

/// `http_flv` section of config.json (README lists every key).
public struct HTTPFLVConfig: ConfigSection {
    public static let key = "http_flv"

    public var listener: RelayConfig.Listener
    public var cors: Bool
    /// A connection whose request head is not complete this long after connecting is closed (slowloris).
    public var requestTimeoutMs: Int
    /// Longest request line + headers; longer is answered 431 and closed.
    public var maxHeaderBytes: Int

    public init(reading r: inout ConfigReader) throws {
        listener = try r.listener(port: 8080)
        cors = try r.bool("cors", default: true)
        requestTimeoutMs = try r.int("request_timeout_ms", default: 10_000, in: 100...600_000)
        maxHeaderBytes = try r.int("max_header_bytes", default: 16 << 10, in: 1024...(1 << 20))
    }

    public static let defaults = Self.parsedDefaults
}

extension RelayConfig {
    public var httpFLV: HTTPFLVConfig {
        get { self[HTTPFLVConfig.self] }
        set { self[HTTPFLVConfig.self] = newValue }
    }
}
