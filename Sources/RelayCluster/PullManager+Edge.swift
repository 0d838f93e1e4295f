import RelayCore
import RelayPull

/// An edge's pulls are RelayPull's: on demand (idle after the last player leaves), ephemeral
/// (gone when they stop), marked with their origin node.
extension PullManager: EdgePulls {
    public func pullFromOrigin(stream: String, url: String, node: String) async -> Bool {
        do {
            try add(PullSpec(stream: stream, url: url, transport: .tcp, onDemand: true), origin: node, ephemeral: true)
        } catch .conflict(_) where snapshot(stream)?.origin != nil {
            // Another player's lookup added it first.
        } catch {
            return false
        }
        // On demand: the pull starts when it is asked for, and the pull module was asked before it existed.
        return await provide(stream, for: SessionInfo(sessionID: "cluster", protocolName: "cluster", remoteAddress: "-"))
    }

    public func dropOriginPull(_ stream: String, reason: String) -> Bool {
        guard snapshot(stream)?.origin != nil else { return false }
        return remove(stream, reason: reason)
    }

    public var originPullCount: Int {
        snapshots.count { $0.origin != nil }
    }
}
