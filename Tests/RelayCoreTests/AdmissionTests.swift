import Logging
import NIOCore
import NIOPosix
@testable import RelayCore
import Testing

/// A hook service that answers every decision the same way.
private struct FixedHooks: EventHooks {
    let decision: HookDecision
    func isConfigured(_ event: HookEvent) -> Bool { event == .publish || event == .play }
    func authorize(_ event: HookEvent, stream: String, session: SessionInfo, extra: [String: JSONValue]) async -> HookDecision {
        decision
    }
    func notify(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue]) {}
}

/// `RelayContext.admitPublisher` / `admitPlayer`: the one admission every protocol uses.
@Suite struct AdmissionTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    func context(_ edit: (inout RelayConfig) -> Void = { _ in }, hooks: (any EventHooks)? = nil) -> RelayContext {
        var config = RelayConfig.default
        // The sources here never get media: no receive timeout may end them while a loaded
        // machine keeps a test waiting between two admissions.
        config.source.receiveTimeoutMs = 0
        edit(&config)
        return RelayContext(config: config, muxers: [], logger: Logger(label: "admission"), hooks: hooks)
    }

    /// Admits on the loop; `inline` tells whether the answer came before `admitPublisher` returned.
    func admit(_ relay: RelayContext, _ id: String = "live/a", over protocolName: String = "rtmp",
               from address: String = "10.0.0.9:5000") async -> (result: Result<Source, PublishRefusal>, inline: Bool) {
        let request = PublishRequest(streamID: id, session: SessionInfo(sessionID: "s", protocolName: protocolName,
                                                                       remoteAddress: address))
        let loop = self.loop
        return await withCheckedContinuation { continuation in
            loop.execute {
                var calling = true
                relay.admitPublisher(request, on: loop) { result in
                    continuation.resume(returning: (result, calling))
                }
                calling = false
            }
        }
    }

    func refusal(_ r: Result<Source, PublishRefusal>) -> PublishRefusal? {
        if case .failure(let refusal) = r { return refusal }
        return nil
    }

    @Test func withoutHooksTheAnswerIsInline() async throws {
        let relay = context()
        let (result, inline) = await admit(relay)
        let source = try result.get()
        #expect(inline, "no hook, no takeover: the publisher's first media must not wait for a hop")
        #expect(relay.registry.source("live/a") === source)
        #expect(source.eventLoop === loop)
    }

    @Test func anInvalidIDIsRefused() async {
        let relay = context()
        let (result, inline) = await admit(relay, "../etc/passwd")
        #expect(refusal(result) == .invalidStreamID("../etc/passwd"))
        #expect(inline)
    }

    @Test func aDuplicateIsRefusedNamingTheHolderByDefault() async throws {
        let relay = context()
        _ = try await admit(relay, from: "127.0.0.1:5000").result.get()
        let second = await admit(relay, over: "jt1078", from: "10.0.0.1:7000").result
        #expect(refusal(second) == .busy("live/a", holder: "rtmp 127.0.0.1:5000"))
        #expect("\(refusal(second)!)".contains("rtmp 127.0.0.1:5000"))
        let same = await admit(relay, from: "127.0.0.1:5001").result
        #expect(refusal(same) == .busy("live/a", holder: "rtmp 127.0.0.1:5000"), "reject_duplicate_publish is on by default")
    }

    @Test func withTheFlagOffANewcomerOfTheSameProtocolTakesOver() async throws {
        let relay = context { $0.source.rejectDuplicatePublish = false }
        let first = try await admit(relay, from: "127.0.0.1:5000").result.get()
        let (result, inline) = await admit(relay, from: "127.0.0.1:5001")
        let second = try result.get()
        #expect(!inline, "a takeover closes the old source first")
        #expect(await first.isClosed)
        #expect(relay.registry.source("live/a") === second)
        #expect(second.publisher.remoteAddress == "127.0.0.1:5001")
    }

    @Test func anotherProtocolTakesOverOnlyWithCrossProtocolTakeover() async throws {
        let off = context { $0.source.rejectDuplicatePublish = false }
        _ = try await admit(off, over: "rtmp", from: "127.0.0.1:5000").result.get()
        #expect(refusal(await admit(off, over: "gb28181", from: "10.0.0.2:6000").result)
                == .busy("live/a", holder: "rtmp 127.0.0.1:5000"))
        #expect(off.publishConflict("live/a", protocolName: "gb28181") == .busy("live/a", holder: "rtmp 127.0.0.1:5000"))
        #expect(off.publishConflict("live/a", protocolName: "rtmp") == nil)

        let on = context { $0.source.rejectDuplicatePublish = false; $0.source.crossProtocolTakeover = true }
        let first = try await admit(on, over: "rtmp", from: "127.0.0.1:5000").result.get()
        #expect(on.publishConflict("live/a", protocolName: "gb28181") == nil)
        let second = try await admit(on, over: "gb28181", from: "10.0.0.2:6000").result.get()
        #expect(await first.isClosed)
        #expect(on.registry.source("live/a") === second)
    }

    @Test func withTheFlagOnCrossProtocolTakeoverDoesNotApply() async throws {
        let relay = context { $0.source.crossProtocolTakeover = true }
        _ = try await admit(relay, over: "jt1078").result.get()
        #expect(refusal(await admit(relay, over: "rtmp").result) == .busy("live/a", holder: "jt1078 10.0.0.9:5000"))
    }

    @Test func maxStreamsIsApplied() async throws {
        let relay = context { $0.limits.maxStreams = 1 }
        _ = try await admit(relay, "live/a").result.get()
        #expect(refusal(await admit(relay, "live/b").result) == .tooManyStreams(1))
    }

    @Test func theHookDecidesAndItsRecordAnswerApplies() async throws {
        let denied = context(hooks: FixedHooks(decision: HookDecision(allowed: false, status: 403, reason: "no key")))
        let (result, inline) = await admit(denied)
        #expect(refusal(result) == .denied(reason: "no key"))
        #expect(!inline)
        #expect(denied.registry.source("live/a") == nil)

        let allowed = context(hooks: FixedHooks(decision: HookDecision(allowed: true, status: 200, reason: "ok",
                                                                       answer: .object(["record": .bool(true)]))))
        let source = try await admit(allowed).result.get()
        #expect(allowed.registry.source("live/a") === source)
    }

    @Test func playersAreAdmittedOnce() async throws {
        let player = SessionInfo(sessionID: "p", protocolName: "flv", remoteAddress: "10.0.0.3:4000")
        let relay = context { $0.source.playWaitMs = 50 }
        func refused(_ r: Result<Source, PlayRefusal>) -> PlayRefusal? {
            if case .failure(let refusal) = r { return refusal }
            return nil
        }
        #expect(refused(await relay.admitPlayer(PlayRequest(streamID: "a/../b", session: player), on: loop))
                == .invalidStreamID("a/../b"))
        #expect(refused(await relay.admitPlayer(PlayRequest(streamID: "live/none", session: player), on: loop))
                == .notFound("live/none"))
        let denial = HookDecision(allowed: false, status: 401, reason: "who are you")
        let denied = context(hooks: FixedHooks(decision: denial))
        let answer = refused(await denied.admitPlayer(PlayRequest(streamID: "live/a", session: player), on: loop))
        #expect(answer == .denied(denial))
        #expect(answer?.httpStatus == 401)
    }
}
