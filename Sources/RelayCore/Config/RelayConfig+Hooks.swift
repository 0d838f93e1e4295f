/// `hooks` section of config.json (README lists every key; hooks/README.md the bodies). A core
/// section: hooks are the admission contract (`EventHooks`), whichever client answers them.
extension RelayConfig {
    public struct Hooks: Sendable, Equatable {
        public struct Endpoint: Sendable, Equatable {
            public var url: String
            public var timeoutMs: Int
            /// When the hook cannot answer (timeout, connection error, too many in flight): allow
            /// (true) or deny (false, the default). A non-2xx answer always denies.
            public var failOpen: Bool

            public init(url: String, timeoutMs: Int, failOpen: Bool) {
                self.url = url
                self.timeoutMs = timeoutMs
                self.failOpen = failOpen
            }
        }

        /// Default timeout and fail-open switch of every hook (each may override them).
        public var timeoutMs: Int
        public var failOpen: Bool
        /// Hooks other than on_publish and on_play (notifications, timeout decisions) waiting
        /// for an answer at once; beyond it decisions are treated as unanswered (denied unless
        /// fail-open) and notifications are dropped with a log line.
        public var maxInFlight: Int
        /// on_publish calls waiting at once: a budget of their own, so a flood of players (each
        /// an on_play call to a slow hook server) cannot keep publishers from being admitted.
        public var publishMaxInFlight: Int
        /// on_play calls waiting at once; beyond it a play is answered at once as unanswered.
        public var playMaxInFlight: Int
        /// HTTP/1.1 connections kept per hook server, for each class of hooks (on_publish,
        /// on_play, the rest: each has its own connection pool).
        public var maxConnections: Int
        /// By event name ("on_publish"); a missing entry means no hook for that event.
        public var endpoints: [String: Endpoint]

        /// Calls of `kind` that may wait for an answer at once.
        public func maxInFlight(_ kind: HookClass) -> Int {
            switch kind {
            case .publish: return publishMaxInFlight
            case .play: return playMaxInFlight
            case .other: return maxInFlight
            }
        }

        public func endpoint(_ event: HookEvent) -> Endpoint? { endpoints[event.rawValue] }
        public var isEmpty: Bool { endpoints.isEmpty }
    }

    static func hooks(_ r: inout ConfigReader) throws -> Hooks {
        let timeoutMs = try r.int("timeout_ms", default: 3000, in: 50...120_000)
        let failOpen = try r.bool("fail_open", default: false)
        var hooks = Hooks(timeoutMs: timeoutMs, failOpen: failOpen,
                          maxInFlight: try r.int("max_in_flight", default: 1024, in: 1...1_000_000),
                          publishMaxInFlight: try r.int("publish_max_in_flight", default: 256, in: 1...1_000_000),
                          playMaxInFlight: try r.int("play_max_in_flight", default: 512, in: 1...1_000_000),
                          maxConnections: try r.int("max_connections", default: 32, in: 1...4096),
                          endpoints: [:])
        for event in HookEvent.allCases {
            let key = event.rawValue
            switch r.value(key) {
            case nil, .null?:
                continue
            case .string(let url)?:
                guard !url.isEmpty else { continue }
                try checkURL(url, r.error(key, "expected an http:// or https:// URL, got \"\(url)\""))
                hooks.endpoints[key] = Hooks.Endpoint(url: url, timeoutMs: timeoutMs, failOpen: failOpen)
            case .object(let object)?:
                var o = r.nested(key, object)
                let url = try o.string("url", default: "")
                let endpoint = Hooks.Endpoint(url: url, timeoutMs: try o.int("timeout_ms", default: timeoutMs, in: 50...120_000),
                                              failOpen: try o.bool("fail_open", default: failOpen))
                try o.rejectUnknownKeys()
                guard !url.isEmpty else { continue }
                try checkURL(url, o.error("url", "expected an http:// or https:// URL, got \"\(url)\""))
                hooks.endpoints[key] = endpoint
            case let other?:
                throw r.error(key, "expected a URL string or an object {\"url\", \"timeout_ms\", \"fail_open\"}, got \(other.typeDescription)")
            }
        }
        return hooks
    }

    private static func checkURL(_ url: String, _ error: ConfigError) throws {
        let lower = url.lowercased()
        for scheme in ["http://", "https://"] where lower.hasPrefix(scheme) {
            let rest = lower.dropFirst(scheme.count)
            if let first = rest.first, first != "/", first != ":", !url.contains(where: { $0 == " " || $0 == "\n" }) { return }
        }
        throw error
    }
}
