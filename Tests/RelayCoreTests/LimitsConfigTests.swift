import RelayTestSupport
import Testing
@testable import RelayCore

/// The limits keys: defaults, ranges and unknown keys (the protocols' own limits: their modules' config tests).
@Suite struct LimitsConfigTests: ConfigSuite {
    @Test func defaults() throws {
        let c = try parse("{}")
        #expect(c.limits == RelayConfig.Limits(maxConnections: 10_000, maxConnectionsPerIP: 1000, maxStreams: 1000))
        #expect(c.source.publisherGraceMs == 3000)
        #expect(c.source.gopCacheMaxBytes == 32 << 20)
        #expect(c.player.maxPendingBytes == 8 << 20)
    }

    @Test func valuesAreRead() throws {
        let c = try parse(#"""
        {"limits": {"max_connections": 5, "max_connections_per_ip": 0, "max_streams": 2},
         "source": {"publisher_grace_ms": 0}}
        """#)
        #expect(c.limits == RelayConfig.Limits(maxConnections: 5, maxConnectionsPerIP: 0, maxStreams: 2))
        #expect(c.source.publisherGraceMs == 0)
    }

    @Test func rangesAndUnknownKeysAreErrors() {
        #expect(field(#"{"limits": {"max_connections": -1}}"#) == "limits.max_connections")
        #expect(field(#"{"limits": {"max_connections_per_ip": 1.5}}"#) == "limits.max_connections_per_ip")
        #expect(field(#"{"limits": {"max_streams": "10"}}"#) == "limits.max_streams")
        #expect(field(#"{"limits": {"max_stream": 10}}"#) == "limits.max_stream")
        #expect(field(#"{"limits": 5}"#) == "limits")
        #expect(field(#"{"source": {"publisher_grace_ms": -5}}"#) == "source.publisher_grace_ms")
    }
}

/// Issue 16: the listener guard's and the hook budgets' keys (the admin listener's: AdminUnitTests).
@Suite struct ListenerLimitsConfigTests: ConfigSuite {
    @Test func defaults() throws {
        let c = try parse("{}")
        #expect(c.limits.establishTimeoutMs == 15_000 && c.limits.idleTimeoutMs == 60_000)
        #expect(c.hooks.maxInFlight == 1024 && c.hooks.publishMaxInFlight == 256 && c.hooks.playMaxInFlight == 512)
        #expect(c.hooks.maxInFlight(.publish) == 256 && c.hooks.maxInFlight(.play) == 512 && c.hooks.maxInFlight(.other) == 1024)
    }

    @Test func valuesAreRead() throws {
        let c = try parse(#"""
        {"limits": {"establish_timeout_ms": 500, "idle_timeout_ms": 0},
         "hooks": {"publish_max_in_flight": 5, "play_max_in_flight": 6, "max_in_flight": 7}}
        """#)
        #expect(c.limits.establishTimeoutMs == 500 && c.limits.idleTimeoutMs == 0)
        #expect(c.hooks.maxInFlight(.publish) == 5 && c.hooks.maxInFlight(.play) == 6 && c.hooks.maxInFlight(.other) == 7)
    }

    @Test func rangesAreChecked() {
        #expect(field(#"{"limits": {"establish_timeout_ms": 0}}"#) == "limits.establish_timeout_ms")
        #expect(field(#"{"limits": {"idle_timeout_ms": 50}}"#) == "limits.idle_timeout_ms")
        #expect(field(#"{"hooks": {"play_max_in_flight": 0}}"#) == "hooks.play_max_in_flight")
        #expect(field(#"{"hooks": {"publish_max_in_flight": -1}}"#) == "hooks.publish_max_in_flight")
    }
}
