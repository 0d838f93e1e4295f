import PostgresNIO
import RelayCore

/// `cluster.postgres_url` taken apart, libpq style: `postgres://user[:password]@host[:port]/database`,
/// or a unix socket's directory as the `host` query parameter (`postgres://user@/db?host=/run/postgresql`).
/// TLS is not offered: the registry is meant for a private network or a local socket.
public struct PostgresURL: Sendable, Equatable {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// The socket's directory (libpq's `host=/dir`): the server listens on `<dir>/.s.PGSQL.<port>`.
    public var socketDirectory: String?

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(Invalid) {
        let scheme = text.prefix { $0 != ":" }
        guard scheme == "postgres" || scheme == "postgresql", text.dropFirst(scheme.count).hasPrefix("://") else {
            throw Invalid(description: "must start with postgres://")
        }
        let afterScheme = text.dropFirst(scheme.count + 3)
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
        let hostPart = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        // UpstreamURL already takes an authority apart (only the scheme differs); a socket URL has no host.
        let hostless = hostPart.isEmpty || hostPart.hasPrefix(":")
        let rewritten = "rtmp://" + authority.dropLast(hostPart.count) + (hostless ? "localhost" : "") + hostPart
            + afterScheme.dropFirst(authority.count)
        guard let parsed = UpstreamURL(rewritten) else {
            throw Invalid(description: "not a URL: postgres://user[:password]@host[:port]/database")
        }
        let (path, params) = splitQuery(Substring(parsed.path))
        user = parsed.user ?? ""
        password = parsed.password
        host = parsed.host
        // UpstreamURL put the rtmp default port where none was written.
        port = hostPart.hasSuffix("]") || !hostPart.contains(":") ? 5432 : parsed.port
        database = String(path.drop { $0 == "/" })
        socketDirectory = params["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        if let mode = params["sslmode"], mode != "disable" {
            throw Invalid(description: "sslmode '\(printable(mode))' is not offered (only disable)")
        }
        guard !user.isEmpty else { throw Invalid(description: "needs a user (postgres://user@host/database)") }
        guard !database.isEmpty else { throw Invalid(description: "needs a database (postgres://user@host/database)") }
    }

    /// For `PostgresClient`.
    var configuration: PostgresClient.Configuration {
        if let dir = socketDirectory {
            return .init(unixSocketPath: "\(dir)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
    }

    /// Without the password (logs, the admin API).
    public var redacted: String {
        let socket = socketDirectory.map { "?host=\($0)" } ?? ""
        return "postgres://\(user)@\(host):\(port)/\(database)\(socket)"
    }
}
