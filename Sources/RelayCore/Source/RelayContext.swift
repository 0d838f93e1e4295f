import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Builds a protocol's muxer; registered per TransStream kind (`.rtmp`, `.flv`, …) by the server.
public struct MuxerFactory: Sendable {
    public let kind: OutputKind
    /// The merge window of this kind's TransStreams when it is not the source's
    /// (`source.merge_write_ms`): HLS cuts its own segments and parts, from one packet each.
    public let mergePolicy: MergeWritePolicy?
    public let make: @Sendable () -> any Muxer

    public init(kind: OutputKind, mergePolicy: MergeWritePolicy? = nil, make: @escaping @Sendable () -> any Muxer) {
        self.kind = kind
        self.mergePolicy = mergePolicy
        self.make = make
    }
}

/// What every session needs: config, the stream registry and the muxers of each protocol.
public final class RelayContext: Sendable {
    public let config: RelayConfig
    public let registry: StreamRegistry
    public let muxers: [OutputKind: MuxerFactory]
    public let logger: Logger
    /// The operator's hooks (nil: none configured); sessions use `authorize` / `notify`.
    public let hooks: (any EventHooks)?
    /// Makes recording sinks (nil: recording unavailable).
    public let recorder: (any StreamRecorder)?
    /// Bytes and sessions of publishers and players that have left (admin API, /metrics).
    public let totals = TrafficTotals()
    /// Connections of every media listener, bounded by `limits` (listeners call `admit` at accept).
    public let connections: ConnectionLimiter
    /// What every source holds for players, against `limits.max_memory_bytes`.
    public let memory: MemoryBudget
    /// Routes of other HTTP dialects (`ProtocolModule.httpRoutes`), served by the HTTP listeners.
    public let httpRoutes = HTTPRouteTable()
    /// Outputs played over one HTTP response or a WebSocket on the players' HTTP port, by suffix.
    public let httpStreams: [HTTPStreamOutput]
    /// Stream providers (on-demand pulls, a cluster's origins) and publish gates modules add.
    public let streams = StreamExtensions()
    private let ids = NIOLockedValueBox<UInt64>(0)

    public init(config: RelayConfig, muxers: [MuxerFactory], logger: Logger,
                hooks: (any EventHooks)? = nil, recorder: (any StreamRecorder)? = nil,
                httpStreams: [HTTPStreamOutput] = [.flv]) {
        self.config = config
        self.httpStreams = httpStreams
        self.memory = MemoryBudget(limit: config.limits.maxMemoryBytes)
        self.registry = StreamRegistry(maxStreams: config.limits.maxStreams, memory: memory)
        self.connections = ConnectionLimiter(limits: config.limits, logger: logger)
        self.muxers = Dictionary(muxers.map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a })
        self.logger = logger
        self.hooks = hooks
        self.recorder = recorder
    }

    /// Process-unique ids for sessions and sinks.
    public func nextID() -> UInt64 {
        ids.withLockedValue { $0 += 1; return $0 }
    }
}
