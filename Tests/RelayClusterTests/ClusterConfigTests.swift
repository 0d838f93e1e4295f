import RelayCore
import Testing
@testable import RelayCluster

@Suite struct ClusterConfigTests {
    @Test func offByDefault() {
        #expect(ClusterConfig.defaults.enabled == false)
        #expect(ClusterConfig.defaults.registry == .postgres)
    }

    @Test func anEnabledNodeNeedsANameAndAHookNeedsAURL() {
        #expect(throws: ConfigError.self) { try ClusterConfig.parse(["enabled": .bool(true)]) }
        #expect(throws: ConfigError.self) {
            try ClusterConfig.parse(["enabled": .bool(true), "node_id": .string("a"), "registry": .string("hook")])
        }
        #expect(throws: ConfigError.self) { try ClusterConfig.parse(["postgres_table": .string("x; drop table y")]) }
        // `<table>_players` must fit PostgreSQL's 63 characters (a longer name is cut, silently).
        #expect(throws: ConfigError.self) { try ClusterConfig.parse(["postgres_table": .string(String(repeating: "t", count: 56))]) }
        #expect(throws: Never.self) { try ClusterConfig.parse(["postgres_table": .string(String(repeating: "t", count: 55))]) }
        #expect(throws: ConfigError.self) { try ClusterConfig.parse(["heartbeat_ms": .number(5000), "expiry_ms": .number(4000)]) }
    }
}
