import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore

/// The operator's HTTP hooks on AsyncHTTPClient: one POST with a JSON body per event
/// (hooks/README.md).
///
/// - Decisions (`authorize`): any 2xx allows; another status denies; no answer within the hook's
///   `timeout_ms` (or a connection error, or its class's budget reached) denies, or allows for a
///   `fail_open` hook. The caller gets its answer by the deadline even if the HTTP client has not
///   given up yet (a guard timer resumes it).
/// - Notifications (`notify`) are fire-and-forget on a Task; beyond `max_in_flight` they are
///   dropped with a warning.
/// - Each `HookClass` (on_publish, on_play, the rest) has its own budget of calls in flight and
///   its own HTTP client (connection pool): a call over budget is answered at once, never
///   queued, and a flood of one class never delays another's calls.
/// - Nothing here runs on or waits on a media event loop: requests are Tasks, their I/O is the
///   HTTP client's.
public final class HTTPEventHooks: EventHooks {
    /// Swapped by `reload` (admin API); read once per hook call.
    private let configBox: NIOLockedValueBox<RelayConfig.Hooks>
    private var config: RelayConfig.Hooks { configBox.withLockedValue { $0 } }
    private let clients: [HookClass: HTTPClient]
    private let loops: any EventLoopGroup
    /// The hook client's own event loop when none is given: hook traffic neither waits behind
    /// media writes on busy relay loops nor takes their time.
    private let ownLoops: MultiThreadedEventLoopGroup?
    private let logger: Logger
    private let inFlight = NIOLockedValueBox([HookClass: Int]())
    /// One warning per class per second when calls are over budget (a flood would log per call).
    private let overBudgetLog = NIOLockedValueBox([HookClass: RateLimitedLog]())
    private let isShutDown = NIOLockedValueBox(false)
    private let dialect: any HookDialect
    /// Largest body read from an answer.
    static let maxAnswerBytes = 64 << 10
    /// The guard timer's margin over the HTTP client's own deadline.
    static let guardSlack = TimeAmount.milliseconds(25)

    /// `group`: where the HTTP client runs; nil (the server's choice) gives the hooks one event
    /// loop thread of their own, shut down by `shutdown()`.
    public init(config: RelayConfig.Hooks, group: (any EventLoopGroup)? = nil, dialect: any HookDialect = NativeHookDialect(),
                logger: Logger) {
        self.dialect = dialect
        let ownLoops = group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let group: any EventLoopGroup = group ?? ownLoops!
        self.ownLoops = ownLoops
        self.configBox = NIOLockedValueBox(config)
        self.loops = group
        self.logger = logger
        // Each request has its hook's deadline; the client's own timeouts only back it up (and
        // must allow the longest timeout a reload may bring).
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(120), read: .seconds(120)),
            connectionPool: .init(idleTimeout: .seconds(60),
                                  concurrentHTTP1ConnectionsPerHostSoftLimit: config.maxConnections))
        configuration.httpVersion = .automatic
        // A hook server that refuses connections answers "no" at once, not at the timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        var clients: [HookClass: HTTPClient] = [:]
        for kind in HookClass.allCases {
            clients[kind] = HTTPClient(eventLoopGroup: group, configuration: configuration)
        }
        self.clients = clients
    }

    public func isConfigured(_ event: HookEvent) -> Bool {
        endpoint(event, config) != nil
    }

    private func endpoint(_ event: HookEvent, _ config: RelayConfig.Hooks) -> (name: String, endpoint: RelayConfig.Hooks.Endpoint)? {
        guard let name = dialect.hookName(event), let endpoint = config.endpoints[name] else { return nil }
        return (name, endpoint)
    }

    public func authorize(_ event: HookEvent, stream: String, session: SessionInfo,
                          extra: [String: JSONValue]) async -> HookDecision {
        let config = self.config
        guard let (name, endpoint) = self.endpoint(event, config),
              let body = dialect.bodies(event, stream: stream, session: session, extra: extra).first else { return .notConfigured }
        let kind = HookClass(event)
        let who = "\(name) for \(stream) (\(session.protocolName) \(session.remoteAddress))"
        guard acquire(kind, config) else {
            let decision = dialect.unanswered(event, failOpen: endpoint.failOpen, reason: "not sent: \(config.maxInFlight(kind)) \(kind.rawValue) hooks in flight")
            overBudget(kind, config, "\(who) \(decision.allowed ? "allowed" : "denied")")
            return decision
        }
        defer { release(kind) }
        let started = NIODeadline.now()
        let outcome = await post(endpoint, body: body, kind: kind)
        Self.count(self.dialect.metricPrefix + name, outcome, since: started)
        let ms = Double((NIODeadline.now() - started).nanoseconds) / 1e6
        let took = String(format: "%.1f", ms)
        switch outcome {
        case .answered(let status, let bytes):
            let answer = Self.parseAnswer(bytes)
            let decision = dialect.decision(event, stream: stream, status: status, answer: answer,
                                            reason: Self.reason(answer: answer, bytes: bytes))
            if decision.allowed {
                logger.debug("\(who) allowed: HTTP \(status) in \(took) ms")
            } else {
                logger.info("\(who) denied: HTTP \(status) in \(took) ms: \(decision.reason)")
            }
            return decision
        case .failed(let why):
            let decision = dialect.unanswered(event, failOpen: endpoint.failOpen, reason: why)
            logger.warning("\(who): \(why) (\(took) ms); \(decision.allowed ? "allowed" : "denied")")
            return decision
        }
    }

    public func notify(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue]) {
        guard let (name, _) = endpoint(event, config) else { return }
        for body in dialect.bodies(event, stream: stream, session: session, extra: extra) {
            post(hook: name, body: body, kind: HookClass(event), about: stream ?? "-")
        }
    }

    /// Fire-and-forget POST of `body` to the hook named `name` (a dialect's own notification,
    /// such as a keepalive), with the budget of the notifications.
    public func post(hook name: String, body: String) {
        post(hook: name, body: body, kind: .other, about: "-")
    }

    private func post(hook name: String, body: String, kind: HookClass, about: String) {
        let config = self.config
        guard let endpoint = config.endpoints[name], !isShutDown.withLockedValue({ $0 }) else { return }
        guard acquire(kind, config) else {
            overBudget(kind, config, "dropping \(name) for \(about)")
            return
        }
        Task {
            defer { self.release(kind) }
            let started = NIODeadline.now()
            let outcome = await self.post(endpoint, body: body, kind: kind)
            Self.count(self.dialect.metricPrefix + name, outcome, since: started)
            switch outcome {
            case .answered(let status, _) where (200..<300).contains(status):
                self.logger.debug("\(name) for \(about) delivered: HTTP \(status)")
            case .answered(let status, _):
                self.logger.warning("\(name) for \(about): hook answered HTTP \(status)")
            case .failed(let why):
                self.logger.warning("\(name) for \(about) not delivered: \(why)")
            }
        }
    }

    /// Applies a new `hooks` section (admin API `POST /api/v1/hooks/reload`): URLs, timeouts,
    /// fail-open and the `*max_in_flight` budgets apply to the next hook call; `max_connections`
    /// keeps the value the clients were made with.
    public func reload(_ config: RelayConfig.Hooks) {
        configBox.withLockedValue { $0 = config }
    }

    /// Hook calls and their latency for /metrics (once per call, never per packet).
    private static func count(_ name: String, _ outcome: Outcome, since started: NIODeadline) {
        let result: String
        switch outcome {
        case .answered(let status, _): result = (200..<300).contains(status) ? "ok" : "denied"
        case .failed: result = "failed"
        }
        RelayMetrics.hookCall(event: name, outcome: result, nanoseconds: (NIODeadline.now() - started).nanoseconds)
    }

    /// Hooks waiting for an answer now.
    public var pending: Int { inFlight.withLockedValue { $0.values.reduce(0, &+) } }

    /// Hooks of `kind` waiting for an answer now.
    public func pending(_ kind: HookClass) -> Int { inFlight.withLockedValue { $0[kind] ?? 0 } }

    /// Waits (bounded by the longest hook timeout + 1 s) for hooks in flight, then closes the client.
    public func shutdown() async {
        let longest = config.endpoints.values.map(\.timeoutMs).max() ?? config.timeoutMs
        let deadline = NIODeadline.now() + .milliseconds(Int64(longest) + 1000)
        // Notifications still hopping from player loops (on_play_done) get a moment to start.
        try? await Task.sleep(nanoseconds: 20_000_000)
        while pending > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        isShutDown.withLockedValue { $0 = true }
        for client in clients.values { try? await client.shutdown() }
        try? await ownLoops?.shutdownGracefully()
    }

    // MARK: internals

    private enum Outcome: Sendable {
        case answered(Int, ByteBuffer)
        case failed(String)
    }

    private func acquire(_ kind: HookClass, _ config: RelayConfig.Hooks) -> Bool {
        let limit = config.maxInFlight(kind)
        return inFlight.withLockedValue { counts in
            let n = counts[kind] ?? 0
            guard n < limit else { return false }
            counts[kind] = n + 1
            return true
        }
    }

    private func release(_ kind: HookClass) {
        inFlight.withLockedValue { counts in
            let n = counts[kind] ?? 0
            counts[kind] = n > 1 ? n - 1 : nil
        }
    }

    /// A call over its class's budget: counted, and one warning per class per second.
    private func overBudget(_ kind: HookClass, _ config: RelayConfig.Hooks, _ what: String) {
        RelayMetrics.hookOverBudget(kind: kind.rawValue)
        let more = overBudgetLog.withLockedValue { $0[kind, default: RateLimitedLog(interval: .seconds(1))].shouldLog() }
        guard let more else { return }
        let key = kind == .other ? "max_in_flight" : "\(kind.rawValue)_max_in_flight"
        logger.warning("\(what): \(config.maxInFlight(kind)) \(kind.rawValue) hooks already in flight (hooks.\(key))\(suppressed(more))")
    }

    /// POSTs `body`; answers by the hook's deadline (+ `guardSlack`) whatever the client does.
    private func post(_ endpoint: RelayConfig.Hooks.Endpoint, body: String, kind: HookClass) async -> Outcome {
        let deadline = NIODeadline.now() + .milliseconds(Int64(endpoint.timeoutMs))
        let timedOut = Outcome.failed("timed out after \(endpoint.timeoutMs) ms")
        let once = NIOLockedValueBox<(CheckedContinuation<Outcome, Never>?, Task<Void, Never>?, Scheduled<Void>?)>((nil, nil, nil))
        @Sendable func finish(_ outcome: Outcome) {
            let (continuation, task, timer) = once.withLockedValue { state in
                defer { state = (nil, nil, nil) }
                return state
            }
            timer?.cancel()
            task?.cancel()
            continuation?.resume(returning: outcome)
        }
        return await withCheckedContinuation { continuation in
            once.withLockedValue { $0.0 = continuation }
            let timer = loops.any().scheduleTask(deadline: deadline + Self.guardSlack) { finish(timedOut) }
            let task = Task {
                let outcome = await self.execute(endpoint.url, body: body, kind: kind, deadline: deadline, timedOut: timedOut)
                finish(outcome)
            }
            let alreadyDone = once.withLockedValue { state -> Bool in
                guard state.0 != nil else { return true }
                state.1 = task
                state.2 = timer
                return false
            }
            if alreadyDone {
                timer.cancel()
            }
        }
    }

    private func execute(_ url: String, body: String, kind: HookClass, deadline: NIODeadline, timedOut: Outcome) async -> Outcome {
        guard let client = clients[kind] else { return .failed("no HTTP client") }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "LiveRelay")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, deadline: deadline)
            let bytes = try await response.body.collect(upTo: Self.maxAnswerBytes)
            return .answered(Int(response.status.code), bytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return NIODeadline.now() >= deadline ? timedOut : .failed("\(error)")
        } catch is CancellationError {
            return timedOut
        } catch {
            return .failed("failed: \(error)")
        }
    }

    /// The answer when it is a JSON object.
    static func parseAnswer(_ bytes: ByteBuffer) -> JSONValue? {
        guard bytes.readableBytes > 0, bytes.readableBytesView.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "{"),
              let value = try? JSONValue.parse(Data(bytes.readableBytesView)),
              case .object = value else { return nil }
        return value
    }

    /// `"reason"` of a JSON answer, else a short plain-text body; printable and at most 200 characters.
    static func reason(answer: JSONValue?, bytes: ByteBuffer) -> String? {
        var text: String?
        if let answer {
            if case .string(let s)? = answer["reason"] { text = s }
        } else if bytes.readableBytes > 0, bytes.readableBytes <= 512 {
            text = String(decoding: bytes.readableBytesView, as: UTF8.self)
        }
        guard let raw = text else { return nil }
        let clean = String(raw.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
            .trimmingCharacters(in: .whitespaces)
        guard !clean.isEmpty else { return nil }
        return clean.count > 200 ? String(clean.prefix(200)) + "…" : clean
    }
}
