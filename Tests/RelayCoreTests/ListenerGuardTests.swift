import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import RelayCore

/// `ConnectionGuard` on an EmbeddedChannel with virtual time: the establish deadline (paused
/// while the server works, gone once playing or publishing, back after), and the idle check.
@Suite struct ListenerGuardTests {
    func connected(establishMs: Int?, idleMs: Int?) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let policy = ConnectionGuard.Policy(listener: "test", establishMs: establishMs, idleMs: idleMs)
        try channel.pipeline.syncOperations.addHandler(ConnectionGuard(policy: policy, logger: Logger(label: "test")))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func mark(_ channel: EmbeddedChannel, _ state: ConnectionState) {
        channel.triggerUserOutboundEvent(state, promise: nil)
    }

    func advance(_ channel: EmbeddedChannel, ms: Int64) {
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(ms))
    }

    /// Advances virtual time by `ms`, then expects the connection open (or closed).
    func expect(_ channel: EmbeddedChannel, after ms: Int64, open: Bool, _ comment: Comment? = nil,
                sourceLocation: SourceLocation = #_sourceLocation) {
        advance(channel, ms: ms)
        #expect(channel.isActive == open, comment, sourceLocation: sourceLocation)
    }

    @Test func aConnectionThatNeverEstablishesIsClosedAtTheDeadlineWhateverItSends() throws {
        let channel = try connected(establishMs: 1000, idleMs: nil)
        for _ in 0..<9 {
            try channel.writeInbound(ByteBuffer(string: "x"))  // dripping does not extend it
            advance(channel, ms: 100)
        }
        #expect(channel.isActive)
        expect(channel, after: 100, open: false)
    }

    @Test func theServersWorkDoesNotCountAndPlayingEndsTheDeadline() throws {
        let channel = try connected(establishMs: 1000, idleMs: nil)
        advance(channel, ms: 600)
        mark(channel, .serving)
        expect(channel, after: 5000, open: true)  // a slow hook, a stream that takes its time
        mark(channel, .waiting)  // 400 ms left
        expect(channel, after: 350, open: true)
        mark(channel, .playing)
        expect(channel, after: 60_000, open: true)
        // The play ended (PAUSE, TEARDOWN): a whole new deadline.
        mark(channel, .waiting)
        expect(channel, after: 900, open: true)
        expect(channel, after: 200, open: false)
    }

    @Test func pausedDeadlineThatWasUsedUpClosesAtOnceWhenWaitingAgain() throws {
        let channel = try connected(establishMs: 1000, idleMs: nil)
        advance(channel, ms: 999)
        mark(channel, .serving)
        advance(channel, ms: 10)
        mark(channel, .waiting)
        expect(channel, after: 2, open: false)
    }

    @Test func answeredGivesTheNextRequestAWholeDeadline() throws {
        let channel = try connected(establishMs: 1000, idleMs: nil)
        for _ in 0..<5 {
            advance(channel, ms: 800)
            mark(channel, .serving)
            advance(channel, ms: 50)
            mark(channel, .answered)
        }
        #expect(channel.isActive)
        expect(channel, after: 1001, open: false)
    }

    @Test func aSilentConnectionIsClosedByTheIdleCheckAndTrafficKeepsItOpen() throws {
        let channel = try connected(establishMs: nil, idleMs: 1000)
        for _ in 0..<30 {
            try channel.writeInbound(ByteBuffer(string: "x"))
            advance(channel, ms: 100)
        }
        #expect(channel.isActive)
        // Outbound bytes count too (a player being fed).
        for _ in 0..<30 {
            try channel.writeOutbound(ByteBuffer(string: "y"))
            advance(channel, ms: 100)
        }
        #expect(channel.isActive)
        expect(channel, after: 1300, open: false)
    }

    @Test func aPublisherThatFallsSilentIsClosedAPlayerIsNot() throws {
        let publisher = try connected(establishMs: 500, idleMs: 1000)
        mark(publisher, .publishing)
        expect(publisher, after: 900, open: true, "publishing ends the establish deadline")
        expect(publisher, after: 400, open: false, "a silent publisher is closed by the idle check")

        let player = try connected(establishMs: 500, idleMs: 1000)
        mark(player, .playing)
        expect(player, after: 10_000, open: true, "a player that receives nothing (stalled stream, RTSP over UDP) stays")
    }

    @Test func otherOutboundEventsPassThrough() throws {
        let channel = try connected(establishMs: 1000, idleMs: nil)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.triggerUserOutboundEvent("not a state", promise: promise)
        // EmbeddedChannel's head does not support user events: it fails the promise, which shows
        // the event went past the guard.
        #expect(throws: (any Error).self) { try promise.futureResult.wait() }
        let marked = channel.eventLoop.makePromise(of: Void.self)
        channel.triggerUserOutboundEvent(ConnectionState.playing, promise: marked)
        try marked.futureResult.wait()
    }
}
