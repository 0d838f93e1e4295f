import Logging
import NIOCore
import RelayCore
import RelayTestSupport
@testable import RelayPull

/// An upstream the test scripts: it records `close`.
final class FakeUpstream: Upstream {
    let remoteAddress = "fake 192.0.2.1:1935"
    private(set) var closed = false

    func close() { closed = true }
}

/// Every attempt a manager made through `connector`: the test answers its future and plays its
/// events. Touched on the test's thread only (the ManualLoop's).
final class UpstreamScript: @unchecked Sendable {
    struct Attempt {
        let spec: PullSpec
        let events: any UpstreamEvents
        let promise: EventLoopPromise<any Upstream>
        let upstream = FakeUpstream()

        /// The upstream answers and sends an H.264 track and a key frame.
        func play(at dts: Int64 = 0) throws {
            promise.assumeIsolated().succeed(upstream)
            events.upstream(.stream(try PullTestMedia.video()))
            events.upstream(.packet(PullTestMedia.keyFrame(dts: dts)))
        }
    }

    private(set) var attempts: [Attempt] = []

    var connector: UpstreamConnector {
        { [self] spec, loop, _, _, events in
            let promise = loop.makePromise(of: (any Upstream).self)
            attempts.append(Attempt(spec: spec, events: events, promise: promise))
            return promise.futureResult
        }
    }
}

enum PullTestMedia {
    static func video() throws -> AVStream {
        try AVStream.h264(index: 0, timebase: 1000, avcRecord: hexBuffer(MediaFixtures.avcRecord))
    }

    static func keyFrame(dts: Int64) -> AVPacket {
        AVPacket(streamIndex: 0, codec: .h264, dts: dts, pts: dts, isKeyFrame: true,
                 payload: hexBuffer("0000000565888000ff"))
    }
}

/// A relay on a ManualLoop with a pull manager whose upstreams the test scripts.
final class PullHarness {
    let test: TestRelay
    let script = UpstreamScript()
    let manager: PullManager
    var loop: ManualLoop { test.loop }
    var relay: RelayContext { test.relay }

    init(_ pull: [String: JSONValue] = [:], random: Double = 0) throws {
        var config = RelayConfig.default
        config.pull = try PullConfig.parse(pull)
        test = TestRelay(config: config)
        manager = PullManager(context: test.relay, group: test.loop, connector: script.connector, random: { random })
    }

    var state: PullSnapshot.State? { manager.snapshot("live/cam")?.state }

    func source() -> Source? { relay.registry.source("live/cam") }
}
