import NIOCore

/// At most one log line per `interval` for a repeating event (a peer can send bad input at line
/// rate; the log must not grow with it), with the count of the lines left out in between.
public struct RateLimitedLog: Sendable {
    public let interval: TimeAmount
    private var last: NIODeadline?
    private var suppressed = 0

    public init(interval: TimeAmount = .seconds(10)) { self.interval = interval }

    /// The number of suppressed events to mention when a line should be logged now, else nil.
    public mutating func shouldLog(now: NIODeadline = .now()) -> Int? {
        if let last, now - last < interval {
            suppressed &+= 1
            return nil
        }
        last = now
        defer { suppressed = 0 }
        return suppressed
    }
}

/// The tail of a rate-limited line: " (n more since the last such line)", or "" for none.
public func suppressed(_ n: Int) -> String {
    n > 0 ? " (\(n) more since the last such line)" : ""
}
