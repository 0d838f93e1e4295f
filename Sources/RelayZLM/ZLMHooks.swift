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
    private let keepalive = NIOLockedValueBox<Keepalive?>(nil)

    public init(settings: ZLMSettings, native: RelayConfig.Hooks, logger: Logger) {
        let dialect = ZLMHookDialect(settings: settings)
        let client = HTTPEventHooks(config: Self.config(settings, native), dialect: dialect, logger: logger)
        self.dialect = dialect
        self.client = client
        self.settings = settings
        let keepalive = self.keepalive
        settings.onHooksChanged {
            client.reload(Self.config(settings, native))
            // A new interval (or URL) applies now, not after the interval in progress.
            keepalive.withLockedValue { $0?.restart() }
        }
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
        let loop = Keepalive(settings: settings, client: client, dialect: dialect, data: data)
        keepalive.withLockedValue { $0?.stop(); $0 = loop }
        loop.restart()
    }

    /// Stops the keepalive and waits for hooks in flight (bounded), then closes the client.
    public func stop() async {
        keepalive.withLockedValue { $0?.stop(); $0 = nil }
        await client.shutdown()
    }
}

/// on_server_keepalive every `hook.alive_interval` seconds, on a task of its own.
final class Keepalive: Sendable {
    private let settings: ZLMSettings
    private let client: HTTPEventHooks
    private let dialect: ZLMHookDialect
    private let data: @Sendable () -> [String: JSONValue]
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(settings: ZLMSettings, client: HTTPEventHooks, dialect: ZLMHookDialect,
         data: @escaping @Sendable () -> [String: JSONValue]) {
        self.settings = settings
        self.client = client
        self.dialect = dialect
        self.data = data
    }

    /// (Re)starts the interval from now.
    func restart() {
        let settings = self.settings, client = self.client, dialect = self.dialect, data = self.data
        let next = Task {
            while !Task.isCancelled {
                let seconds = min(max(settings.aliveIntervalSeconds, 1), 3600)
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                guard !Task.isCancelled else { return }
                client.post(hook: "on_server_keepalive", body: dialect.keepaliveBody(data: data()))
            }
        }
        task.withLockedValue { $0?.cancel(); $0 = next }
    }

    func stop() {
        task.withLockedValue { $0?.cancel(); $0 = nil }
    }
}
