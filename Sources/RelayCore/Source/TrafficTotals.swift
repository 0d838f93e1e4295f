import NIOConcurrencyHelpers
import NIOCore

/// Bytes and sessions of publishers and players that have left, by protocol, so the admin API
/// and `/metrics` can report totals as live figures (taken from snapshots) plus these.
///
/// Updated once per session end, never per packet.
public final class TrafficTotals: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Payload bytes received from publishers that have left, by protocol ("rtmp", "gb28181" …).
        public var bytesIn: [String: UInt64] = [:]
        /// Bytes sent to players that have left, by protocol ("rtmp", "flv", "rtsp" …).
        public var bytesOut: [String: UInt64] = [:]
        public var sourcesEnded: [String: UInt64] = [:]
        public var playersEnded: [String: UInt64] = [:]

        public init() {}
    }

    private let box = NIOLockedValueBox(Snapshot())

    public init() {}

    public var snapshot: Snapshot { box.withLockedValue { $0 } }

    public func sourceEnded(protocol name: String, bytesIn: UInt64) {
        box.withLockedValue { s in
            s.bytesIn[name, default: 0] &+= bytesIn
            s.sourcesEnded[name, default: 0] &+= 1
        }
    }

    public func playerEnded(protocol name: String, bytesSent: UInt64) {
        box.withLockedValue { s in
            s.bytesOut[name, default: 0] &+= bytesSent
            s.playersEnded[name, default: 0] &+= 1
        }
    }

    /// A player left its source: reads its final counters on its own loop. Recordings
    /// (background sinks) are not players and are not counted.
    func playerLeft(_ sink: any MediaSink, kind: OutputKind) {
        guard !(sink is any BackgroundSink) else { return }
        if let inspectable = sink as? any InspectableSink {
            inspectable.eventLoop.execute {
                let snap = inspectable.snapshot(kind: kind)
                self.playerEnded(protocol: snap.session?.protocolName ?? kind.protocolName, bytesSent: snap.bytesSent)
            }
        } else {
            playerEnded(protocol: kind.protocolName, bytesSent: 0)
        }
    }
}
