import RelayCore
import Testing
@testable import RelayWebRTC

@Suite struct WebRTCConfigTests {
    @Test func defaults() throws {
        let config = WebRTCConfig.defaults
        #expect(config.enabled)
        #expect(config.listener.port == 8189)
        #expect(config.candidates.isEmpty)
        #expect(config.consentTimeoutMs == 30_000)
    }
}
