import CoreMetrics

/// Rare events counted with swift-metrics; the admin API's `/metrics` shows them (RelayAdmin
/// bootstraps a Prometheus backend once per process; without it these are no-ops).
///
/// Only for events that happen once per session or less often (a slow player dropped, input
/// that does not parse, a hook call): nothing here is called per packet or per write. Figures
/// that change per packet (bytes, streams, players) are computed when `/metrics` is scraped.
public enum RelayMetrics {
    /// A player closed because it could not keep up (`player.slow_policy`).
    public static func slowPlayerDropped(protocol name: String) {
        Counter(label: "relay_slow_players_dropped_total", dimensions: [("protocol", name)]).increment()
    }

    /// Input from a publisher or client that does not parse (the session is refused or ended).
    public static func parseError(protocol name: String) {
        Counter(label: "relay_parse_errors_total", dimensions: [("protocol", name)]).increment()
    }

    /// A connection closed at accept by `limits.max_connections` / `max_connections_per_ip`.
    public static func connectionRefused(listener: String) {
        Counter(label: "relay_connections_refused_total", dimensions: [("listener", listener)]).increment()
    }

    /// One hook call: `outcome` is "ok" (2xx), "denied" (another status) or "failed" (no answer).
    public static func hookCall(event: String, outcome: String, nanoseconds: Int64) {
        Counter(label: "relay_hook_calls_total", dimensions: [("event", event), ("outcome", outcome)]).increment()
        Timer(label: "relay_hook_duration_seconds", dimensions: [("event", event)]).recordNanoseconds(max(0, nanoseconds))
    }

    /// Timestamp discontinuities a source's `MediaClock` turned into continuations; counted in
    /// batches (a hostile publisher may jump on every packet).
    public static func timestampDiscontinuities(protocol name: String, count: UInt64) {
        guard count > 0 else { return }
        Counter(label: "relay_timestamp_discontinuities_total", dimensions: [("protocol", name)])
            .increment(by: Int64(clamping: count))
    }

    /// A publisher or player refused because sources hold more than `limits.max_memory_bytes`.
    public static func memoryBudgetRefused(kind: String) {
        Counter(label: "relay_memory_budget_refused_total", dimensions: [("kind", kind)]).increment()
    }

    /// A source over `source.max_memory_bytes` dropped its caches.
    public static func sourceCachesDropped() {
        Counter(label: "relay_source_caches_dropped_total").increment()
    }
}
