import Logging
import RelayCore

/// A publish of an id that is live on another node (a fresh registry row): refused naming that
/// node when `source.reject_duplicate_publish` is on; else it goes on and this node's row
/// replaces the other's (that node logs it on its next heartbeat).
final class ClusterGate: PublishGate {
    let locator: any StreamLocator
    let rejectDuplicates: Bool
    let logger: Logger

    init(locator: any StreamLocator, rejectDuplicates: Bool, logger: Logger) {
        self.locator = locator
        self.rejectDuplicates = rejectDuplicates
        self.logger = logger
    }

    func check(_ request: PublishRequest) async -> PublishRefusal? {
        // An edge's pull of another node's stream is not a second publish.
        guard request.session.params[ClusterModule.originParam] == nil,
              let holder = await locator.locate(request.streamID) else { return nil }
        if rejectDuplicates {
            return .busy(request.streamID, holder: "node \(holder.node) (\(holder.url))")
        }
        logger.warning("cluster: \(request.streamID) is live on node \(holder.node); this publish takes its registry row")
        return nil
    }
}

/// The registry first, then the hook (a stream the database does not know).
struct LocatorChain: StreamLocator {
    let locators: [any StreamLocator]

    func locate(_ stream: String) async -> StreamLocation? {
        for locator in locators {
            if let found = await locator.locate(stream) { return found }
        }
        return nil
    }
}
