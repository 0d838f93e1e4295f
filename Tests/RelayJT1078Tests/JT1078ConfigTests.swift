import Foundation
import RelayCore
import RelayJT1078
import Testing

@Suite struct JT1078ConfigTests {
    @Test func defaults() throws {
        let jt = RelayConfig.default.jt1078
        #expect(jt.enabled && jt.host == "0.0.0.0" && jt.port == 1078 && jt.version == "auto" && jt.port2019 == 0)
        #expect(jt.stripLeadingZeros && jt.receiveTimeoutMs == 15_000)
        #expect(jt.maxBodyBytes == 950 && jt.maxFrameBytes == 4 << 20 && jt.maxStreamsPerConnection == 64)
    }

    @Test func parsesEveryKey() throws {
        let c = try RelayConfig.parse(Data("""
            {"jt1078": {"enabled": false, "host": "127.0.0.1", "port": 7000, "version": "2016", "port_2019": 7001,
             "strip_leading_zeros": false, "receive_timeout_ms": 0, "max_body_bytes": 1400, "max_frame_bytes": 1048576,
             "max_streams_per_connection": 8}}
            """.utf8), sections: [JT1078Config.self])
        let jt = c.jt1078
        #expect(!jt.enabled && jt.host == "127.0.0.1" && jt.port == 7000 && jt.version == "2016" && jt.port2019 == 7001)
        #expect(!jt.stripLeadingZeros && jt.receiveTimeoutMs == 0 && jt.maxBodyBytes == 1400 && jt.maxFrameBytes == 1 << 20)
        #expect(jt.maxStreamsPerConnection == 8)
    }

    @Test func errorsNameTheField() {
        func field(_ json: String) -> String? {
            do {
                _ = try RelayConfig.parse(Data(json.utf8), sections: [JT1078Config.self])
                return nil
            } catch let e as ConfigError {
                return e.field
            } catch {
                return "?"
            }
        }
        #expect(field(#"{"jt1078": {"version": "2013"}}"#) == "jt1078.version")
        #expect(field(#"{"jt1078": {"port_2019": 1078}}"#) == "jt1078.port_2019")
        #expect(field(#"{"jt1078": {"max_body_bytes": 100}}"#) == "jt1078.max_body_bytes")
        #expect(field(#"{"jt1078": {"strip_zeros": true}}"#) == "jt1078.strip_zeros")
        #expect(field(#"{"jt1078": {"port": 1078, "port_2019": 1079}}"#) == nil)
    }
}
