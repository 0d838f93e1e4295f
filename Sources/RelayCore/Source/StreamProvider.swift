import NIOConcurrencyHelpers

/// Brings a stream that is not published on this node when a player asks for it: an on-demand
/// pull (RelayPull), or the stream's origin in a cluster (RelayCluster). `admitPlayer` asks the
/// providers in the order they were added, before it waits `source.play_wait_ms` for the source.
public protocol StreamProvider: Sendable {
    /// Starts bringing `id` and returns at once (a lookup may be awaited, never the pull itself);
    /// true when this provider takes it, so the next ones are not asked.
    func provide(_ id: String, for session: SessionInfo) async -> Bool
}

/// Checks a publish against what this node cannot see alone (a cluster: is the id live on another
/// node?). Runs after on_publish, before the id is claimed here.
public protocol PublishGate: Sendable {
    /// nil lets the publish go on.
    func check(_ request: PublishRequest) async -> PublishRefusal?
}

/// Told when a stream id is claimed and released on this node (a cluster's registry). Called on
/// the registering thread, outside the registry's lock: return at once.
public protocol StreamObserver: Sendable {
    func streamStarted(_ source: Source)
    func streamEnded(_ source: Source)
}

/// The providers and gates modules add at start-up (read on every miss and publish: a lock, not
/// an actor hop).
public final class StreamExtensions: Sendable {
    private let state = NIOLockedValueBox<(providers: [any StreamProvider], gates: [any PublishGate])>(([], []))

    public init() {}

    public func addProvider(_ provider: any StreamProvider) {
        state.withLockedValue { $0.providers.append(provider) }
    }

    public func addPublishGate(_ gate: any PublishGate) {
        state.withLockedValue { $0.gates.append(gate) }
    }

    var providers: [any StreamProvider] { state.withLockedValue { $0.providers } }
    var gates: [any PublishGate] { state.withLockedValue { $0.gates } }
    var hasGates: Bool { state.withLockedValue { !$0.gates.isEmpty } }
}
