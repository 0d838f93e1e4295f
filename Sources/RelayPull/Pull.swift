import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// Opens an upstream session for a pull: the scheme's client (RTSP, RTMP, HTTP-FLV). Called on
/// `loop`; `events` hears the session on `loop`. Tests pass a scripted one.
public typealias UpstreamConnector = @Sendable (_ spec: PullSpec, _ loop: any EventLoop, _ timeouts: UpstreamTimeouts,
                                                _ logger: Logger, _ events: any UpstreamEvents) -> EventLoopFuture<any Upstream>

/// What every pull of a manager shares.
struct PullEnvironment: Sendable {
    let context: RelayContext
    let config: PullConfig
    let connect: UpstreamConnector
    /// 0..<1, for the backoff's jitter.
    let random: @Sendable () -> Double
    /// A reconnect was scheduled (the manager's counter).
    let reconnected: @Sendable () -> Void
    /// An ephemeral pull removed itself (idle, or its upstream ended after it played).
    let removed: @Sendable (Pull) -> Void
}

/// One pull: the stream's id, its upstream and its state machine (`PullMachine`), which lives on
/// `loop`; what the admin API reads is published to a lock after every change.
final class Pull: Sendable {
    let spec: PullSpec
    let origin: String?
    let ephemeral: Bool
    let loop: any EventLoop
    private let env: PullEnvironment
    private let status: NIOLockedValueBox<PullSnapshot>
    private let machine: NIOLoopBoundBox<PullMachine?>

    init(spec: PullSpec, origin: String?, ephemeral: Bool, loop: any EventLoop, env: PullEnvironment) {
        self.spec = spec
        self.origin = origin
        self.ephemeral = ephemeral
        self.loop = loop
        self.env = env
        let url = UpstreamURL(spec.url)?.redacted ?? ""
        status = NIOLockedValueBox(PullSnapshot(
            stream: spec.stream, url: url, transport: spec.transport.rawValue, onDemand: spec.onDemand, origin: origin,
            state: spec.onDemand ? .idle : .connecting, since: iso8601(Date()), attempts: 0, reconnects: 0,
            lastError: nil, bitrateKbps: 0, bytesIn: 0, players: 0))
        machine = .makeEmptyBox(valueType: PullMachine.self, eventLoop: loop)
    }

    var snapshot: PullSnapshot { status.withLockedValue { $0 } }

    func publish(_ snapshot: PullSnapshot) {
        status.withLockedValue { $0 = snapshot }
    }

    /// Makes the state machine; a pull that is not on demand connects now.
    func start() {
        loop.execute { [self] in
            let machine = PullMachine(pull: self, env: env)
            self.machine.value = machine
            machine.begin()
        }
    }

    /// A player asked for the stream: an idle on-demand pull starts.
    func want() {
        loop.execute { [self] in machine.value?.want() }
    }

    /// Ends the pull for good: the upstream and the local stream close.
    func stop(reason: String) {
        loop.execute { [self] in
            machine.value?.stop(reason: reason, final: true)
            machine.value = nil
        }
    }

    /// On `loop`: the local stream closed (not by this pull).
    func sourceClosed(_ source: Source) {
        machine.value?.sourceClosed(source)
    }
}

/// Hands one attempt's upstream events to the state machine; events of an older attempt are
/// dropped by its number.
final class PullAttemptEvents: UpstreamEvents {
    private weak var machine: PullMachine?
    private let attempt: Int

    init(machine: PullMachine, attempt: Int) {
        self.machine = machine
        self.attempt = attempt
    }

    func upstream(_ event: MediaEvent) {
        machine?.received(event, attempt: attempt)
    }

    func upstreamEnded(_ reason: String) {
        machine?.attemptEnded(reason, attempt: attempt)
    }
}
