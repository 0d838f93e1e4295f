/// What an edge needs of the pull proxies (RelayPull's `PullManager`; a fake in tests).
public protocol EdgePulls: Sendable {
    /// Starts an on-demand pull of `stream` from `url` on node `node`, dropped when its players
    /// leave or the origin's stream ends; false when it could not be added (a pull of another
    /// kind has the id, the pull limit).
    func pullFromOrigin(stream: String, url: String, node: String) async -> Bool
    /// Stops this node's pull of `stream` from another node; false when there is none.
    func dropOriginPull(_ stream: String, reason: String) -> Bool
    /// This node's pulls from other nodes.
    var originPullCount: Int { get }
}
