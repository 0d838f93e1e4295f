import Logging
import NIOConcurrencyHelpers
import RelayCore
import RelayHooks

/// The dialect's hooks at run time: an `HTTPEventHooks` speaking `ZLMHookDialect` (same budgets,
/// deadlines and fail-open rule as the native hooks, from the `hooks` section), its URLs
/// following setServerConfig, and on_server_keepalive every `hook.alive_interval` seconds.
public final class ZLMHooks: Sendable {
    public let dialect: ZLMHookDialect
    /// Joins the native hooks in the server's `EventHooksChain`.
    public let client: HTTPEventHooks
    private let settings: ZLMSettings
    private let keepalive = NIOLockedValueBox<Task<Void, Never>?>(nil)

    public init(settings: ZLMSettings, native: RelayConfig.Hooks, logger: Logger) {
        let dialect = ZLMHookDialect(settings: settings)
        let client = HTTPEventHooks(config: Self.config(settings, native), dialect: dialect, logger: logger)
        self.dialect = dialect
        self.client = client
        self.settings = settings
        settings.onHooksChanged { client.reload(Self.config(settings, native)) }
    }

    /// The dialect's URLs as endpoints (none while `hook.enable` is off), with the native budgets.
    static func config(_ settings: ZLMSettings, _ native: RelayConfig.Hooks) -> RelayConfig.Hooks {
        var c = native
        c.timeoutMs = settings.hookTimeoutMs
        c.endpoints = settings.hookEnabled
            ? settings.hookURLs.mapValues { .init(url: $0, timeoutMs: settings.hookTimeoutMs, failOpen: native.failOpen) }
            : [:]
        return c
    }

    /// Starts on_server_keepalive; `data` is the figures it reports (ZLMediaKit sends its
    /// object counts; platforms read only `mediaServerId`).
    public func start(data: @escaping @Sendable () -> [String: JSONValue]) {
        let settings = self.settings, client = self.client, dialect = self.dialect
        let task = Task {
            while !Task.isCancelled {
                let seconds = max(settings.aliveIntervalSeconds, 1)
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                guard !Task.isCancelled else { return }
                client.post(hook: "on_server_keepalive", body: dialect.keepaliveBody(data: data()))
            }
        }
        keepalive.withLockedValue { $0?.cancel(); $0 = task }
    }

    /// Stops the keepalive and waits for hooks in flight (bounded), then closes the client.
    public func stop() async {
        keepalive.withLockedValue { $0?.cancel(); $0 = nil }
        await client.shutdown()
    }
}
