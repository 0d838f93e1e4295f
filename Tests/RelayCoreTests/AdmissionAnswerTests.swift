import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import RelayCore
import Testing

/// A hook family that answers decisions with a fixed answer and records notifications.
private final class ScriptedHooks: EventHooks, @unchecked Sendable {
    let events: Set<HookEvent>
    let decision: HookDecision
    private let lock = NSLockBox()
    init(_ events: Set<HookEvent>, _ decision: HookDecision) {
        self.events = events
        self.decision = decision
    }
    func isConfigured(_ event: HookEvent) -> Bool { events.contains(event) }
    func authorize(_ event: HookEvent, stream: String, session: SessionInfo, extra: [String: JSONValue]) async -> HookDecision {
        decision
    }
    func notify(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue]) {
        lock.append("\(event.rawValue) \(stream ?? "-")")
    }
    var notified: [String] { lock.items }
}

private final class NSLockBox: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return list }
}



/// What an on_publish answer changes (`stream_replace`, `enable_audio`), the hooks admission
/// fires besides (on_stream_not_found, on_stream_ready), and several hook families together.
@Suite struct AdmissionAnswerTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    func context(_ hooks: any EventHooks) -> RelayContext {
        var config = RelayConfig.default
        config.source.receiveTimeoutMs = 0
        config.source.playWaitMs = 50
        return RelayContext(config: config, muxers: [], logger: Logger(label: "answers"), hooks: hooks)
    }

    func admit(_ relay: RelayContext, _ id: String) async -> Result<Source, PublishRefusal> {
        let request = PublishRequest(streamID: id, session: SessionInfo(sessionID: "s", protocolName: "gb28181", remoteAddress: "10.0.0.9:5000"))
        let loop = self.loop
        return await withCheckedContinuation { continuation in
            loop.execute { relay.admitPublisher(request, on: loop) { continuation.resume(returning: $0) } }
        }
    }

    static func answer(_ fields: [String: JSONValue]) -> HookDecision {
        HookDecision(allowed: true, status: 200, reason: "ok", answer: .object(fields))
    }

    @Test func streamReplacePublishesUnderTheNewID() async throws {
        let relay = context(ScriptedHooks([.publish], Self.answer(["stream_replace": .string("rtp/dev_chn")])))
        let source = try await admit(relay, "rtp/05F5E101").get()
        // Read through the registry's lock: the Source was made on its loop.
        #expect(relay.registry.sources.map(\.id) == ["rtp/dev_chn"])
        #expect(relay.registry.source("rtp/dev_chn") === source)
        #expect(relay.registry.source("rtp/05F5E101") == nil)
    }

    @Test func anInvalidReplacementIsRefused() async {
        let relay = context(ScriptedHooks([.publish], Self.answer(["stream_replace": .string("../x")])))
        guard case .failure(.invalidStreamID("../x")) = await admit(relay, "rtp/05F5E101") else {
            Issue.record("a replacement that is not a stream id must refuse the publish")
            return
        }
    }

    @Test func enableAudioFalseDropsTheAudioTrack() async throws {
        let relay = context(ScriptedHooks([.publish], Self.answer(["enable_audio": .bool(false)])))
        let source = try await admit(relay, "rtp/a")
            .get()
        let tracks = try await loop.submit {
            source.assumeIsolated { s -> [AVStream] in
                s.updateStream(AVStream.g711(.g711a, index: 1, timebase: 8000))
                s.updateStream(AVStream(index: 0, codec: .h264, timebase: 90000))
                return s.streams
            }
        }.get()
        #expect(tracks.map(\.codec) == [.h264])
    }

    @Test func aPlayForAMissingStreamTellsOnStreamNotFound() async {
        let hooks = ScriptedHooks([.streamNotFound], .notConfigured)
        let relay = context(hooks)
        let request = PlayRequest(streamID: "rtp/dev_chn", session: SessionInfo(sessionID: "p", protocolName: "flv", remoteAddress: "10.0.0.2:1"))
        guard case .failure(.notFound) = await relay.admitPlayer(request, on: loop) else {
            Issue.record("nothing is published")
            return
        }
        #expect(hooks.notified == ["on_stream_not_found rtp/dev_chn"])
    }

    @Test func aChainAllowsOnlyWhenEveryFamilyAllowsAndMergesAnswers() async {
        let native = ScriptedHooks([.publish, .idleTimeout], Self.answer(["record": .bool(true)]))
        let dialect = ScriptedHooks([.publish, .idleTimeout], Self.answer(["stream_replace": .string("rtp/x"), "keep": .bool(true)]))
        let deny = ScriptedHooks([.publish], HookDecision(allowed: false, status: 403, reason: "no"))
        let session = SessionInfo(sessionID: "s", protocolName: "rtmp", remoteAddress: "1.2.3.4:5")
        let both = await EventHooksChain([native, dialect]).authorize(.publish, stream: "rtp/a", session: session, extra: [:])
        #expect(both.allowed && both.record == true && both.streamReplace == "rtp/x")
        let kept = await EventHooksChain([native, dialect]).authorize(.idleTimeout, stream: "rtp/a", session: session, extra: [:])
        #expect(kept.keep, "a timeout is kept when any family keeps it")
        let denied = await EventHooksChain([native, deny]).authorize(.publish, stream: "rtp/a", session: session, extra: [:])
        #expect(!denied.allowed && denied.status == 403)
        let only = EventHooksChain([deny])
        #expect(only.isConfigured(.publish) && !only.isConfigured(.play))
        let none = await only.authorize(.play, stream: "rtp/a", session: session, extra: [:])
        #expect(none == .notConfigured)
    }
}
