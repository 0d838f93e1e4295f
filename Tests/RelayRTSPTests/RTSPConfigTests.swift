import RelayCore
import RelayRTSP
import RelayTestSupport
import Testing

/// The `rtsp` section: defaults, values, and errors that name the key.
@Suite struct RTSPConfigTests: ConfigSuite {
    static var sections: [any ConfigSection.Type] { [RTSPConfig.self] }

    @Test func defaultsAndValues() throws {
        let d = try parse("{}").rtsp
        #expect(d.listener.port == 8554 && d.udpPortMin == 30000 && d.udpPortMax == 39999)
        #expect(d.requestTimeoutMs == 10_000 && d.maxHeaderBytes == 16 << 10 && d.sessionTimeoutMs == 60_000)
        let c = try parse(#"{"rtsp": {"request_timeout_ms": 600, "max_header_bytes": 4096, "udp_port_min": 5000, "udp_port_max": 5001}}"#).rtsp
        #expect(c.requestTimeoutMs == 600 && c.maxHeaderBytes == 4096 && c.udpPortMin == 5000 && c.udpPortMax == 5001)
    }

    @Test func errorsNameTheKey() {
        #expect(field(#"{"rtsp": {"request_timeout_ms": 0}}"#) == "rtsp.request_timeout_ms")
        #expect(field(#"{"rtsp": {"max_header_bytes": 2000000}}"#) == "rtsp.max_header_bytes")
        #expect(field(#"{"rtsp": {"udp_port_min": 5000, "udp_port_max": 5000}}"#) == "rtsp.udp_port_max")
        #expect(field(#"{"rtsp": {"session_timeout": 5000}}"#) == "rtsp.session_timeout")
    }
}
