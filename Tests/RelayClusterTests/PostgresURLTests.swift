import Testing
@testable import RelayCluster

@Suite struct PostgresURLTests {
    @Test func tcpAndSocketURLs() throws {
        let tcp = try PostgresURL("postgres://relay:s%40cret@db.example:6543/cluster")
        #expect(tcp.user == "relay" && tcp.password == "s@cret" && tcp.host == "db.example" && tcp.port == 6543)
        #expect(tcp.database == "cluster" && tcp.socketDirectory == nil)
        #expect(tcp.redacted == "postgres://relay@db.example:6543/cluster")
        let defaultPort = try PostgresURL("postgresql://relay@10.0.0.5/cluster")
        #expect(defaultPort.port == 5432)
        let socket = try PostgresURL("postgres://relay@/cluster?host=/run/postgresql")
        #expect(socket.socketDirectory == "/run/postgresql" && socket.port == 5432)
        let v6 = try PostgresURL("postgres://relay@[::1]/cluster")
        #expect(v6.host == "::1" && v6.port == 5432)
    }

    @Test func rejected() {
        for bad in ["mysql://a@b/c", "postgres://b/c", "postgres://a@b", "postgres://a@b:99999/c",
                    "postgres://a@b/c?sslmode=require", "postgres:/a@b/c"] {
            #expect(throws: PostgresURL.Invalid.self, "\(bad)") { try PostgresURL(bad) }
        }
    }
}
