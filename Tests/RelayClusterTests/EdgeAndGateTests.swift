import RelayCore
import Testing
@testable import RelayCluster

@Suite struct EdgeAndGateTests {
    let origin = StreamLocation(stream: "live/cam1", node: "origin-1", url: "rtmp://10.0.0.1:1935")

    @Test func anEdgePullsWhatItLacksFromItsOrigin() async {
        let pulls = RecordingPulls()
        let edge = EdgeProvider(locator: FixedLocator(["live/cam1": origin]), pulls: pulls, nodeID: "edge&1", logger: PostgresFixture.logger)
        let viewer = SessionInfo(sessionID: "1", protocolName: "flv", remoteAddress: "1.2.3.4:5")
        #expect(await edge.provide("live/cam1", for: viewer))
        let pull = pulls.pulls.withLockedValue { $0["live/cam1"] }
        #expect(pull?.url == "rtmp://10.0.0.1:1935/live/cam1?cluster_edge=edge%261")
        #expect(pull?.node == "origin-1")
        #expect(await edge.provide("live/none", for: viewer) == false)
    }

    @Test func anotherEdgesPullIsNeverChained() async {
        let locator = FixedLocator(["live/cam1": origin])
        let edge = EdgeProvider(locator: locator, pulls: RecordingPulls(), nodeID: "e", logger: PostgresFixture.logger)
        let edgePull = SessionInfo(sessionID: "1", protocolName: "rtmp", remoteAddress: "1.2.3.4:5",
                                   params: [ClusterModule.edgeParam: "edge-2"])
        #expect(await edge.provide("live/cam1", for: edgePull) == false)
        #expect(locator.asked.withLockedValue { $0 }.isEmpty)
    }

    @Test func aFullStreamURLFromAHookIsKept() {
        let full = StreamLocation(stream: "live/cam1", node: "o", url: "rtmp://h:1/live/cam1?token=1")
        #expect(full.streamURL == "rtmp://h:1/live/cam1?token=1")
        #expect(EdgeProvider.pullURL(full, edge: "e") == "rtmp://h:1/live/cam1?token=1&cluster_edge=e")
        #expect(StreamLocation(stream: "live/cam1", node: "o", url: "rtmp://h:1/").streamURL == "rtmp://h:1/live/cam1")
    }

    @Test func aSecondPublishOnAnotherNodeFollowsTheDuplicatePolicy() async {
        let request = PublishRequest(streamID: "live/cam1", session: SessionInfo(sessionID: "1", protocolName: "rtmp", remoteAddress: "1.2.3.4:5"))
        let strict = ClusterGate(locator: FixedLocator(["live/cam1": origin]), rejectDuplicates: true, logger: PostgresFixture.logger)
        #expect(await strict.check(request) == .busy("live/cam1", holder: "node origin-1 (rtmp://10.0.0.1:1935)"))
        let lenient = ClusterGate(locator: FixedLocator(["live/cam1": origin]), rejectDuplicates: false, logger: PostgresFixture.logger)
        #expect(await lenient.check(request) == nil)
        // An id live nowhere else, and an edge's own pull of the origin's stream, go on.
        #expect(await strict.check(PublishRequest(streamID: "live/other", session: request.session)) == nil)
        var pull = request
        pull.session.params[ClusterModule.originParam] = "origin-1"
        #expect(await strict.check(pull) == nil)
    }
}
