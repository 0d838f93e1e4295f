import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Counts the TCP connections of every media listener (one shared account), total and per
/// client IP, and turns away those beyond `limits.max_connections` / `max_connections_per_ip`.
///
/// Touched once per accept and once per close (never per packet), so one lock is enough.
public final class ConnectionLimiter: Sendable {
    private struct State {
        var total = 0
        var perIP: [String: Int] = [:]
    }

    private let maxTotal: Int
    private let maxPerIP: Int
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    public init(limits: RelayConfig.Limits, logger: Logger) {
        self.maxTotal = limits.maxConnections
        self.maxPerIP = limits.maxConnectionsPerIP
        self.logger = logger
    }

    /// Connections open now (total, and from `ip`).
    public var total: Int { state.withLockedValue { $0.total } }
    public func count(ip: String) -> Int { state.withLockedValue { $0.perIP[ip] ?? 0 } }

    /// Call first in a listener's child channel initializer: counts the connection until it
    /// closes, or closes it at once (one log line) when a limit is reached. False: do not set
    /// up the pipeline.
    public func admit(_ channel: any Channel, listener: String) -> Bool {
        let ip = channel.remoteAddress?.ipAddress ?? "?"
        let refused = state.withLockedValue { s -> String? in
            if maxTotal > 0 && s.total >= maxTotal { return "\(s.total) connections open (limits.max_connections)" }
            let mine = s.perIP[ip] ?? 0
            if maxPerIP > 0 && mine >= maxPerIP { return "\(mine) connections open from \(ip) (limits.max_connections_per_ip)" }
            s.total += 1
            s.perIP[ip] = mine + 1
            return nil
        }
        if let refused {
            RelayMetrics.connectionRefused(listener: listener)
            logger.warning("\(listener): refusing connection from \(channel.remoteAddress?.displayString ?? "?"): \(refused)")
            channel.close(promise: nil)
            return false
        }
        channel.closeFuture.whenComplete { [self] _ in
            state.withLockedValue { s in
                s.total -= 1
                if let n = s.perIP[ip], n > 1 { s.perIP[ip] = n - 1 } else { s.perIP[ip] = nil }
            }
        }
        return true
    }
}
