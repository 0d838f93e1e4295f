import RelayCore
import RelayGB28181
import RelayTestSupport
import Testing

struct GBConfigTests: ConfigSuite {
    static var sections: [any ConfigSection.Type] { [GB28181Config.self] }

    @Test func defaults() throws {
        let gb = try parse("{}").gb28181
        #expect(gb.enabled && gb.host == "0.0.0.0")
        #expect(gb.sharedUDPPort == 10000 && gb.sharedTCPPort == 10000)
        #expect(gb.portMin == 40000 && gb.portMax == 40999)
        #expect(gb.reorderWindow == 512 && gb.reorderMs == 100 && gb.lossPolicy == .nextFrame && gb.connectRetryMs == 2000 && gb.repinAfterMs == 3000)
        #expect(gb.receivers.isEmpty)
    }

    @Test func staticReceivers() throws {
        let gb = try parse("""
            {"gb28181": {"shared_udp_port": -1, "receivers": [
              {"stream": "gb/cam1", "ssrc": "0100000001"},
              {"stream": "gb/cam2", "mode": "tcp-passive", "port": 40100},
              {"stream": "gb/cam3", "ssrc": "1100000003", "mode": "tcp-active", "device": "10.0.0.5:6000"}]}}
            """).gb28181
        #expect(gb.sharedUDPPort == -1)
        #expect(gb.receivers == [
            .init(stream: "gb/cam1", ssrc: 100_000_001, mode: "udp", port: 0, device: ""),
            .init(stream: "gb/cam2", ssrc: nil, mode: "tcp-passive", port: 40100, device: ""),
            .init(stream: "gb/cam3", ssrc: 1_100_000_003, mode: "tcp-active", port: 0, device: "10.0.0.5:6000"),
        ])
    }

    @Test func errorsNameTheField() {
        #expect(field(#"{"gb28181": {"shared_udp_port": 70000}}"#) == "gb28181.shared_udp_port")
        #expect(field(#"{"gb28181": {"port_min": 41000, "port_max": 40000}}"#) == "gb28181.port_max")
        #expect(field(#"{"gb28181": {"reorder": 8}}"#) == "gb28181.reorder")
        #expect(field(#"{"gb28181": {"repin_after_ms": 50}}"#) == "gb28181.repin_after_ms")
        #expect(field(#"{"gb28181": {"reorder_window": 4097}}"#) == "gb28181.reorder_window")
        #expect(field(#"{"gb28181": {"receivers": {}}}"#) == "gb28181.receivers")
        #expect(field(#"{"gb28181": {"receivers": [1]}}"#) == "gb28181.receivers[0]")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b", "ssrc": "1"}, {"stream": "a/c", "ssrc": "x1"}]}}"#)
            == "gb28181.receivers[1].ssrc")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b", "ssrc": "4294967296"}]}}"#) == "gb28181.receivers[0].ssrc")
        // On the shared port an SSRC is needed to tell devices apart.
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b"}]}}"#) == "gb28181.receivers[0].ssrc")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/../b", "ssrc": "1"}]}}"#) == "gb28181.receivers[0].stream")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b", "ssrc": "1", "mode": "sctp"}]}}"#) == "gb28181.receivers[0].mode")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b", "mode": "tcp-active"}]}}"#) == "gb28181.receivers[0].device")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b", "ssrc": "1", "colour": 1}]}}"#) == "gb28181.receivers[0].colour")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b", "ssrc": "1"}, {"stream": "a/b", "ssrc": "2"}]}}"#)
            == "gb28181.receivers[1].stream")
        #expect(field(#"{"gb28181": {"receivers": [{"stream": "a/b", "ssrc": "1"}, {"stream": "a/c", "ssrc": "01"}]}}"#)
            == "gb28181.receivers[1].ssrc")
    }
}
