import Testing
@testable import RelayCore

/// The limits keys: defaults, ranges and unknown keys (the protocols' own limits: their modules' config tests).
@Suite struct LimitsConfigTests: ConfigParsing {
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
        #expect(error(#"{"limits": {"max_connections": -1}}"#)?.field == "limits.max_connections")
        #expect(error(#"{"limits": {"max_connections_per_ip": 1.5}}"#)?.field == "limits.max_connections_per_ip")
        #expect(error(#"{"limits": {"max_streams": "10"}}"#)?.field == "limits.max_streams")
        #expect(error(#"{"limits": {"max_stream": 10}}"#)?.field == "limits.max_stream")
        #expect(error(#"{"limits": 5}"#)?.field == "limits")
        #expect(error(#"{"source": {"publisher_grace_ms": -5}}"#)?.field == "source.publisher_grace_ms")
    }
}

/// Issue 16: the listener guard's and the hook budgets' keys (the admin listener's: AdminUnitTests).
@Suite struct ListenerLimitsConfigTests: ConfigParsing {
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
        #expect(error(#"{"limits": {"establish_timeout_ms": 0}}"#)?.field == "limits.establish_timeout_ms")
        #expect(error(#"{"limits": {"idle_timeout_ms": 50}}"#)?.field == "limits.idle_timeout_ms")
        #expect(error(#"{"hooks": {"play_max_in_flight": 0}}"#)?.field == "hooks.play_max_in_flight")
        #expect(error(#"{"hooks": {"publish_max_in_flight": -1}}"#)?.field == "hooks.publish_max_in_flight")
    }
}
