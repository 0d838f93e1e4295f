import NIOConcurrencyHelpers
@testable import RelayCluster

/// A locator with fixed answers, counting the questions.
final class FixedLocator: StreamLocator {
    let answers: [String: StreamLocation]
    let asked = NIOLockedValueBox<[String]>([])

    init(_ answers: [String: StreamLocation]) { self.answers = answers }

    func locate(_ stream: String) async -> StreamLocation? {
        asked.withLockedValue { $0.append(stream) }
        return answers[stream]
    }
}

/// Records the edge's pulls (the real PullManager is tested in RelayPullTests and InteropTests).
final class RecordingPulls: EdgePulls {
    let pulls = NIOLockedValueBox<[String: (url: String, node: String)]>([:])

    func pullFromOrigin(stream: String, url: String, node: String) async -> Bool {
        pulls.withLockedValue { $0[stream] = (url, node) }
        return true
    }

    func dropOriginPull(_ stream: String, reason: String) -> Bool {
        pulls.withLockedValue { $0.removeValue(forKey: stream) != nil }
    }

    var originPullCount: Int { pulls.withLockedValue { $0.count } }
}
