import PostgresNIO

/// Saying what went wrong: postgres-nio's errors in a line, and why the database cannot be reached.
extension PostgresRegistry {
    /// Why a connection of our own fails now; nil when it connects (or cannot be tried).
    func diagnosis() async -> String? {
        guard let configuration = try? database.connectionConfiguration() else { return nil }
        var logger = self.logger
        logger.logLevel = .critical
        let quiet = logger
        let loop = group.next()
        do {
            try await withDeadline(ms: config.locateTimeoutMs) {
                let connection = try await PostgresConnection.connect(on: loop, configuration: configuration, id: 0, logger: quiet)
                try? await connection.close()
            }
            return nil
        } catch {
            return Self.describe(error)
        }
    }

    /// A CREATE TABLE IF NOT EXISTS that lost a race with another node's: IF NOT EXISTS does not
    /// serialize creators, and the loser sees a unique violation (23505), "relation exists"
    /// (42P07) or "type exists" (42710, the table's row type), depending on where it lost.
    static func madeConcurrently(_ error: PSQLError) -> Bool {
        ["23505", "42P07", "42710"].contains(error.serverInfo?[.sqlState] ?? "")
    }

    /// Milliseconds from an age in (fractional) milliseconds that the database computed.
    static func milliseconds(_ age: Double) -> Int {
        guard age.isFinite else { return 0 }
        return Int(clamping: Int64(exactly: age.rounded()) ?? (age > 0 ? Int64.max : 0))
    }

    /// postgres-nio's error in one line: its code, with the server's message or the underlying error.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return "\(error.code): \(message)" }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}
