import NIOSSL
import PostgresNIO
import RelayCore

/// `cluster.postgres_url` taken apart, libpq style: `postgres://user[:password]@host[:port]/database`,
/// or a unix socket's directory as the `host` query parameter (`postgres://user@/db?host=/run/postgresql`).
/// TLS over TCP as libpq's `sslmode` says (default `prefer`), with `sslrootcert`, `sslcert` and
/// `sslkey` as PEM files.
public struct PostgresURL: Sendable, Equatable {
    /// libpq's `sslmode` values that postgres-nio can honour (`allow`, which tries plain text first, it cannot).
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        /// Plain text.
        case disable
        /// TLS when the server offers it, unverified; plain text otherwise (libpq's default).
        case prefer
        /// TLS or no connection; the certificate is checked against `sslrootcert` when one is given.
        case require
        /// TLS with a certificate signed by a trusted CA (`sslrootcert`, else the system's).
        case verifyCA = "verify-ca"
        /// As verify-ca, and the certificate names the host.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// The socket's directory (libpq's `host=/dir`): the server listens on `<dir>/.s.PGSQL.<port>`.
    public var socketDirectory: String?
    /// Over TCP only: a unix socket never uses TLS (as libpq).
    public var sslMode: SSLMode = .prefer
    /// PEM files: the CA(s) to trust, and this client's certificate chain and key.
    public var sslRootCert: String?
    public var sslCert: String?
    public var sslKey: String?

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
        if let mode = params["sslmode"] {
            guard let known = SSLMode(rawValue: mode) else {
                let offered = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                throw Invalid(description: "sslmode '\(printable(mode))' is not offered (\(offered))")
            }
            sslMode = known
        }
        sslRootCert = params["sslrootcert"]
        sslCert = params["sslcert"]
        sslKey = params["sslkey"]
        guard (sslCert == nil) == (sslKey == nil) else { throw Invalid(description: "sslcert and sslkey go together") }
        guard !user.isEmpty else { throw Invalid(description: "needs a user (postgres://user@host/database)") }
        guard !database.isEmpty else { throw Invalid(description: "needs a database (postgres://user@host/database)") }
    }

    /// For `PostgresClient`, with the PEM files read: a missing or bad one is a clear error at
    /// start rather than a failing connect later. Blocking file reads: call it at start, off any
    /// event loop.
    public func clientConfiguration() throws(Invalid) -> PostgresClient.Configuration {
        if let dir = socketDirectory {
            return .init(unixSocketPath: "\(dir)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        let tls: PostgresClient.Configuration.TLS = switch try tlsConfiguration() {
        case nil: .disable
        case let (prefer, settings)?: prefer ? .prefer(settings) : .require(settings)
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// For one `PostgresConnection` outside the client's pool (which keeps why it cannot connect
    /// to itself): the registry's diagnosis of an outage. Reads the PEM files, as above.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let dir = socketDirectory {
            return .init(unixSocketPath: "\(dir)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        let tls: PostgresConnection.Configuration.TLS = switch try tlsConfiguration() {
        case nil: .disable
        case let (prefer, settings)?: prefer ? .prefer(try NIOSSLContext(configuration: settings))
            : .require(try NIOSSLContext(configuration: settings))
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// nil for `disable`; else whether plain text is the fallback (`prefer`) and the TLS settings.
    private func tlsConfiguration() throws(Invalid) -> (prefer: Bool, TLSConfiguration)? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return nil
        case .prefer, .require: tls.certificateVerification = sslRootCert == nil ? .none : .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        func read<T>(_ what: String, _ body: () throws -> T) throws(Invalid) -> T {
            do { return try body() } catch { throw Invalid(description: "\(what): \(error)") }
        }
        if let root = sslRootCert {
            tls.trustRoots = .certificates(try read("sslrootcert \(root)") { try NIOSSLCertificate.fromPEMFile(root) })
        }
        if let cert = sslCert, let key = sslKey {
            tls.certificateChain = try read("sslcert \(cert)") { try NIOSSLCertificate.fromPEMFile(cert) }.map { .certificate($0) }
            tls.privateKey = .privateKey(try read("sslkey \(key)") { try NIOSSLPrivateKey(file: key, format: .pem) })
        }
        return (sslMode == .prefer, tls)
    }

    /// Without the password (logs, the admin API).
    public var redacted: String {
        var query = socketDirectory.map { ["host=\($0)"] } ?? ["sslmode=\(sslMode.rawValue)"]
        if socketDirectory == nil, let root = sslRootCert { query.append("sslrootcert=\(root)") }
        return "postgres://\(user)@\(host):\(port)/\(database)?" + query.joined(separator: "&")
    }
}
