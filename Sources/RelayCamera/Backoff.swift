/// Reconnect delays: exponential back-off with jitter. Attempt n (0-based) waits a nominal
/// `initial · multiplier^n`, capped at `maximum`, minus a random share of up to `jitter` of it —
/// so delays stay within [nominal · (1 − jitter), nominal] and reconnecting cameras spread out.
public struct Backoff: Sendable, Equatable {
    public var initial: Double
    public var maximum: Double
    public var multiplier: Double
    /// 0...1.
    public var jitter: Double

    public init(initial: Double = 0.5, maximum: Double = 8, multiplier: Double = 2, jitter: Double = 0.5) {
        precondition(initial > 0 && maximum >= initial && multiplier >= 1 && (0...1).contains(jitter),
                     "bad back-off parameters")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` without jitter, in seconds.
    public func nominal(attempt: Int) -> Double {
        var delay = initial
        for _ in 0..<max(0, attempt) {
            delay *= multiplier
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// The range `delay(attempt:)` falls in.
    public func bounds(attempt: Int) -> ClosedRange<Double> {
        let n = nominal(attempt: attempt)
        return (n * (1 - jitter))...n
    }

    /// The delay before attempt `attempt`, in seconds, with jitter from `random` (0..<1).
    public func delay(attempt: Int, random: Double) -> Double {
        nominal(attempt: attempt) * (1 - jitter * min(max(random, 0), 1))
    }

    public func delay(attempt: Int) -> Double {
        delay(attempt: attempt, random: Double.random(in: 0..<1))
    }
}

/// `rtmp://host[:port]/app/stream[?query]`: the app is the first path component, the stream
/// name everything after it (query included), as ffmpeg and OBS split it.
public struct RTMPPublishURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var app: String
    public var streamName: String

    public init(host: String, port: Int = 1935, app: String, streamName: String) {
        self.host = host
        self.port = port
        self.app = app
        self.streamName = streamName
    }

    public init(parsing url: String) throws {
        guard url.lowercased().hasPrefix("rtmp://") else {
            throw CameraInputError("\(url): only rtmp:// URLs are supported")
        }
        let rest = url.dropFirst("rtmp://".count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw CameraInputError("\(url): no app/stream path (rtmp://host:port/app/stream)")
        }
        let authority = rest[..<slash]
        var host = String(authority)
        var port = 1935
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else { throw CameraInputError("\(url): bad port") }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else {
                throw CameraInputError("\(url): bad port")
            }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw CameraInputError("\(url): bad host or port") }
        let path = rest[rest.index(after: slash)...]
        guard let split = path.firstIndex(of: "/") else {
            throw CameraInputError("\(url): no stream name (rtmp://host:port/app/stream)")
        }
        let app = String(path[..<split])
        let name = String(path[path.index(after: split)...])
        guard !app.isEmpty, !name.isEmpty else {
            throw CameraInputError("\(url): empty app or stream name")
        }
        self.init(host: host, port: port, app: app, streamName: name)
    }

    /// What `connect` carries as tcUrl.
    public var tcURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "rtmp://\(h):\(port)/\(app)"
    }

    public var description: String { "\(tcURL)/\(streamName)" }
}
