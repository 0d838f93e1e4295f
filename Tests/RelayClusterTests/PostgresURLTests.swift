import Testing
@testable import RelayCluster

@Suite struct PostgresURLTests {
    @Test func tcpAndSocketURLs() throws {
        let tcp = try PostgresURL("postgres://relay:s%40cret@db.example:6543/cluster")
        #expect(tcp.user == "relay" && tcp.password == "s@cret" && tcp.host == "db.example" && tcp.port == 6543)
        #expect(tcp.database == "cluster" && tcp.socketDirectory == nil)
        #expect(tcp.redacted == "postgres://relay@db.example:6543/cluster?sslmode=prefer")
        #expect(tcp.sslMode == .prefer, "libpq's default")
        let defaultPort = try PostgresURL("postgresql://relay@10.0.0.5/cluster")
        #expect(defaultPort.port == 5432)
        let socket = try PostgresURL("postgres://relay@/cluster?host=/run/postgresql")
        #expect(socket.socketDirectory == "/run/postgresql" && socket.port == 5432)
        let v6 = try PostgresURL("postgres://relay@[::1]/cluster")
        #expect(v6.host == "::1" && v6.port == 5432)
    }

    @Test func tlsAsLibpqSaysIt() throws {
        let full = try PostgresURL("postgres://relay@db/cluster?sslmode=verify-full&sslrootcert=/etc/ca.pem&sslcert=/c.pem&sslkey=/k.pem")
        #expect(full.sslMode == .verifyFull && full.sslRootCert == "/etc/ca.pem" && full.sslCert == "/c.pem" && full.sslKey == "/k.pem")
        #expect(full.redacted == "postgres://relay@db:5432/cluster?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        for mode in PostgresURL.SSLMode.allCases {
            #expect(try PostgresURL("postgres://relay@db/cluster?sslmode=\(mode.rawValue)").sslMode == mode)
        }
        // A file that is not there is an error at start, naming it.
        #expect(throws: PostgresURL.Invalid.self) { try full.clientConfiguration() }
        let missing = try PostgresURL("postgres://relay@db/cluster?sslmode=require&sslrootcert=/nonexistent/ca.pem")
        do {
            _ = try missing.clientConfiguration()
            Issue.record("a missing sslrootcert passed")
        } catch {
            #expect(error.description.contains("/nonexistent/ca.pem"))
        }
        // Nothing to read: no files, or no TLS at all.
        _ = try PostgresURL("postgres://relay@db/cluster?sslmode=verify-full").clientConfiguration()
        _ = try PostgresURL("postgres://relay@db/cluster?sslmode=disable&sslrootcert=/nonexistent").clientConfiguration()
    }

    @Test func rejected() {
        for bad in ["mysql://a@b/c", "postgres://b/c", "postgres://a@b", "postgres://a@b:99999/c",
                    "postgres://a@b/c?sslmode=allow", "postgres://a@b/c?sslmode=on", "postgres://a@b/c?sslcert=/c.pem",
                    "postgres:/a@b/c"] {
            #expect(throws: PostgresURL.Invalid.self, "\(bad)") { try PostgresURL(bad) }
        }
    }
}
