import RelayCore
import Testing
@testable import RelayHLS

@Suite struct HLSConfigTests {
    @Test func defaultsAndBounds() throws {
        let c = HLSConfig.defaults
        #expect(c.enabled && c.segmentMs == 2000 && c.partMs == 250 && !c.fmp4Default)
        #expect(throws: (any Error).self) {
            var r = ConfigReader(["segment_ms": .number(1000), "part_ms": .number(600)], path: "hls")
            _ = try HLSConfig(reading: &r)
        }
    }
}
