import Logging
import RelayCore

/// An edge: a player asks for a stream this node lacks → locate it → pull it from its origin
/// (on demand, once for every local player). The player then waits `source.play_wait_ms` as
/// for any stream, so the first viewer's first frame includes the pull.
final class EdgeProvider: StreamProvider {
    let locator: any StreamLocator
    let pulls: any EdgePulls
    let nodeID: String
    let logger: Logger

    init(locator: any StreamLocator, pulls: any EdgePulls, nodeID: String, logger: Logger) {
        self.locator = locator
        self.pulls = pulls
        self.nodeID = nodeID
        self.logger = logger
    }

    func provide(_ id: String, for session: SessionInfo) async -> Bool {
        // Another edge's pull of a stream this node lacks: no chains (nor loops) of edges.
        guard session.params[ClusterModule.edgeParam] == nil else { return false }
        guard let origin = await locator.locate(id) else { return false }
        let url = Self.pullURL(origin, edge: nodeID)
        guard await pulls.pullFromOrigin(stream: id, url: url, node: origin.node) else { return false }
        logger.info("cluster edge: \(id) is on node \(origin.node); pulling \(origin.streamURL)")
        return true
    }

    /// The origin's stream URL marked with this edge's name (the origin lists its pulls by it and
    /// never pulls on their behalf).
    static func pullURL(_ origin: StreamLocation, edge: String) -> String {
        let url = origin.streamURL
        let mark = "\(ClusterModule.edgeParam)=\(edge.addingQueryEscapes())"
        return url + (url.contains("?") ? "&" : "?") + mark
    }
}

extension String {
    /// Escapes what would end a query value (`&`, `=`, `#`, `%`, `+`, `?`).
    func addingQueryEscapes() -> String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "&", "=", "#", "%", "+", "?": out += "%" + String(scalar.value, radix: 16, uppercase: true)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
