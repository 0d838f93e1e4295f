import RelayCore
import Testing
@testable import RelayZLM

@Suite struct ZLMConfigTests {
    @Test func offByDefaultWithTheDialectsDefaults() throws {
        let c = ZLMConfig.defaults
        #expect(!c.enabled)
        #expect(c.mediaServerID == "liverelay")
        #expect(c.rtpApp == "rtp")
        #expect(c.aliveIntervalSeconds == 10)
        #expect(c.hooks.isEmpty)
    }

    @Test func enabledNeedsASecretUnlessLoopbackIsExempt() throws {
        #expect(throws: ConfigError.self) { try ZLMConfig.parse(["enabled": .bool(true)]) }
        let open = try ZLMConfig.parse(["enabled": .bool(true), "loopback_without_secret": .bool(true)])
        #expect(open.enabled && open.secret.isEmpty)
    }

    @Test func hookURLsByTheDialectsNames() throws {
        let c = try ZLMConfig.parse(["hooks": .object(["on_publish": .string("http://127.0.0.1:1/on_publish"), "on_play": .string("")])])
        #expect(c.hooks == ["on_publish": "http://127.0.0.1:1/on_publish"])
        #expect(throws: ConfigError.self) { try ZLMConfig.parse(["hooks": .object(["on_flow": .string("http://x/")])]) }
    }
}
