import Foundation
import Logging
import NIOConcurrencyHelpers

/// What a component under test logged, kept in memory so tests can assert on the one clear line
/// that bad input must produce. Set LIVERELAY_TEST_LOG to also print every line.
public final class LogLines: Sendable {
    private let all = NIOLockedValueBox<[String]>([])

    public init() {}

    /// A logger at `level` whose lines (prefixed with their level) land here.
    public func logger(label: String = "test", level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: label) { _ in Handler(lines: self, logLevel: level) }
        logger.logLevel = level
        return logger
    }

    public var lines: [String] { all.withLockedValue { $0 } }
    public func contains(_ s: String) -> Bool { all.withLockedValue { $0.contains { $0.contains(s) } } }
    public func count(_ s: String) -> Int { all.withLockedValue { $0.filter { $0.contains(s) }.count } }

    private struct Handler: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level
        init(lines: LogLines, logLevel: Logger.Level) {
            self.lines = lines
            self.logLevel = logLevel
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            lines.all.withLockedValue { $0.append("\(event.level) \(event.message)") }
            if ProcessInfo.processInfo.environment["LIVERELAY_TEST_LOG"] != nil { print("\(event.level) \(event.message)") }
        }
    }
}
