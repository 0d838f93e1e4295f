import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus
import RelayCore

/// Prometheus `/metrics`.
///
/// Two registries:
/// - the process-wide one behind swift-metrics (bootstrapped once per process, however many
///   servers a test starts): rare events counted where they happen with `RelayMetrics`
///   (slow players dropped, parse errors, hook calls and their latency);
/// - one per admin server for figures computed at scrape time from the sources' and players'
///   snapshots plus the totals of those that left (`RelayContext.totals`): streams, players
///   and publishers by protocol, bytes in and out, process CPU and memory. Nothing is counted
///   per packet or per write for them.
enum AdminMetrics {
    static let hookBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// The swift-metrics registry (process-wide).
    static let events: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["relay_hook_duration_seconds"] = hookBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Bootstraps the swift-metrics backend (first call in the process only) and makes zero
    /// series for `protocols`, so dashboards see them before the first event.
    static func bootstrapOnce(protocols: [String] = []) {
        _ = events
        for name in protocols {
            _ = Counter(label: "relay_parse_errors_total", dimensions: [("protocol", name)])
            _ = Counter(label: "relay_slow_players_dropped_total", dimensions: [("protocol", name)])
        }
    }
}

/// The scrape-time figures of one server.
final class ScrapeMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// Last value reported per counter series: counters only go up, even while a session moves
    /// from the live figures to the totals of those that left.
    private let reported = NIOLockedValueBox<[String: UInt64]>([:])
    /// Protocols with series (zero until used): the registered modules' and every one seen since.
    private let knownProtocols: NIOLockedValueBox<Set<String>>
    /// The modules' gauges of the last scrape, by name and labels: a series whose subject is gone
    /// (a closed GB28181 receiver) is unregistered, so the registry does not grow with every
    /// stream id ever seen.
    private let moduleSeries = NIOLockedValueBox<[String: Prometheus.Gauge]>([:])

    init(protocols: [String]) {
        knownProtocols = NIOLockedValueBox(Set(protocols))
    }

    struct Figures {
        var streams = 0
        var readyStreams = 0
        var publishers: [String: Int] = [:]
        var players: [String: Int] = [:]
        var bytesIn: [String: UInt64] = [:]
        var bytesOut: [String: UInt64] = [:]
        /// The protocol modules' gauges.
        var gauges: [ModuleGauge] = []
        var uptimeSeconds: Double = 0
        var process = ProcStats()
    }

    func render(_ f: Figures) -> String {
        reported.withLockedValue { reported in
            let protocols = knownProtocols.withLockedValue { known -> Set<String> in
                known.formUnion(f.publishers.keys)
                known.formUnion(f.players.keys)
                known.formUnion(f.bytesIn.keys)
                known.formUnion(f.bytesOut.keys)
                return known
            }
            registry.makeGauge(descriptor: metric("relay_streams", "Live streams (sources)")).set(Double(f.streams))
            registry.makeGauge(descriptor: metric("relay_streams_ready", "Live streams that are playable")).set(Double(f.readyStreams))
            for p in protocols.sorted() {
                let labels = [("protocol", p)]
                registry.makeGauge(descriptor: metric("relay_publishers", "Publishers by protocol"), labels: labels)
                    .set(Double(f.publishers[p] ?? 0))
                registry.makeGauge(descriptor: metric("relay_players", "Players by protocol"), labels: labels)
                    .set(Double(f.players[p] ?? 0))
                count(&reported, "relay_bytes_in_total", p, f.bytesIn[p] ?? 0,
                      help: "Payload bytes received from publishers")
                count(&reported, "relay_bytes_out_total", p, f.bytesOut[p] ?? 0,
                      help: "Bytes sent to players")
            }
            moduleSeries.withLockedValue { series in
                var now: [String: Prometheus.Gauge] = [:]
                for g in f.gauges {
                    let gauge = registry.makeGauge(descriptor: metric(g.name, g.help), labels: g.labels)
                    gauge.set(g.value)
                    now[g.name + g.labels.map { "|\($0.0)=\($0.1)" }.joined()] = gauge
                }
                for (key, gauge) in series where now[key] == nil { registry.unregisterGauge(gauge) }
                series = now
            }
            registry.makeGauge(descriptor: metric("relay_uptime_seconds", "Seconds since the server started")).set(f.uptimeSeconds)
            registry.makeGauge(descriptor: metric("process_resident_memory_bytes", "Resident memory")).set(Double(f.process.rssBytes))
            registry.makeGauge(descriptor: metric("process_threads", "Threads of the process")).set(Double(f.process.threads))
            let cpu = UInt64((f.process.cpuSeconds * 1000).rounded())
            let cpuCounter = registry.makeCounter(descriptor: metric("process_cpu_seconds_total", "User and system CPU time"))
            let cpuKey = "process_cpu_seconds_total"
            if cpu > reported[cpuKey, default: 0] {
                cpuCounter.increment(by: Double(cpu - reported[cpuKey, default: 0]) / 1000)
                reported[cpuKey] = cpu
            }
            return registry.emitToString()
        }
    }

    private func count(_ reported: inout [String: UInt64], _ name: String, _ proto: String, _ value: UInt64, help: String) {
        let counter = registry.makeCounter(descriptor: metric(name, help), labels: [("protocol", proto)])
        let key = name + "|" + proto
        let last = reported[key, default: 0]
        if value > last {
            counter.increment(by: Int64(clamping: value - last))
            reported[key] = value
        }
    }
}

/// A metric's full name and help text.
func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}
