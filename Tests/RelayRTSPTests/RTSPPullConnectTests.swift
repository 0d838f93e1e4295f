import Logging
import NIOCore
import NIOPosix
import RelayCore
@testable import RelayRTSP
import Testing

/// The pull client's connect when no channel is ever made: the future fails and nothing is left
/// waiting (a debug build traps on a promise that is never completed).
@Suite struct RTSPPullConnectTests {
    @Test func anUnresolvableHostFailsTheConnect() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let (events, connecting) = try await loop.submit {
            let events = CollectedUpstreamEvents()
            let future = RTSPPullClient.connect(url: "rtsp://no-such-camera.invalid/cam", transport: .tcp, on: loop,
                                                timeouts: UpstreamTimeouts(connect: .seconds(5), receive: .seconds(5)),
                                                logger: Logger(label: "test"), events: events)
            return (NIOLoopBound(events, eventLoop: loop), future)
        }.get()
        await #expect(throws: RTSPPullError.self) { _ = try await connecting.get() }
        let ended = try await loop.submit { events.value.ended }.get()
        #expect(ended.isEmpty, "a session that never started does not end")
    }
}
