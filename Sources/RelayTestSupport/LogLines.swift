import Foundation
import Logging
import NIOConcurrencyHelpers

/// What a component under test logged, kept in memory so tests can assert on the one clear line
/// that bad input must produce: level, message and metadata (key=value, sorted). Set
/// LIVERELAY_TEST_LOG to also print every line to stderr.
public final class LogLines: Sendable {
    private let all = NIOLockedValueBox<[String]>([])

    public init() {}

    /// A logger at `level` whose lines land here.
    public func logger(label: String = "test", level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: label) { _ in Handler(lines: self, logLevel: level) }
        logger.logLevel = level
        return logger
    }

    public var lines: [String] { all.withLockedValue { $0 } }
    public func contains(_ s: String) -> Bool { all.withLockedValue { $0.contains { $0.contains(s) } } }
    public func count(_ s: String) -> Int { all.withLockedValue { $0.filter { $0.contains(s) }.count } }

    /// Whether lines containing each of `parts` arrive within `seconds`. A component logs on its
    /// own thread, often just after the state change a test waited for (a closed socket, a
    /// counter): asserting on `contains` at once races that line.
    public func eventually(_ parts: String..., within seconds: Double = 5) async -> Bool {
        await RelayTestSupport.eventually(seconds) { parts.allSatisfy(self.contains) }
    }

    /// The number of lines containing `s` once it reaches `n` or `seconds` pass: for "exactly
    /// one line", `count(s, reaching: 1) == 1`.
    public func count(_ s: String, reaching n: Int, within seconds: Double = 5) async -> Int {
        await count(where: { $0.contains(s) }, reaching: n, within: seconds)
    }

    /// The number of lines matching `match` once it reaches `n` or `seconds` pass.
    public func count(where match: (String) -> Bool, reaching n: Int, within seconds: Double = 5) async -> Int {
        _ = await RelayTestSupport.eventually(seconds) { self.lines.filter(match).count >= n }
        return lines.filter(match).count
    }

    private struct Handler: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level
        static let echo = ProcessInfo.processInfo.environment["LIVERELAY_TEST_LOG"] != nil

        init(lines: LogLines, logLevel: Logger.Level) {
            self.lines = lines
            self.logLevel = logLevel
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let meta = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let m = meta.isEmpty ? "" : " " + meta.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
            let line = "\(event.level) \(event.message)\(m)"
            lines.all.withLockedValue { $0.append(line) }
            if Self.echo { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
    }
}
