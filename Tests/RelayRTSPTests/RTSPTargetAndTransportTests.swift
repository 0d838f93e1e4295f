@testable import RelayRTSP
import Testing

@Suite struct RTSPTargetTests {
    @Test func streamTrackQueryAndBase() throws {
        let t = try #require(RTSPTarget(uri: "rtsp://127.0.0.1:8554/live/cam1?token=abc&x=1"))
        #expect(t.streamID == "live/cam1")
        #expect(t.trackID == nil)
        #expect(t.params == ["token": "abc", "x": "1"])
        #expect(t.base == "rtsp://127.0.0.1:8554/live/cam1/")

        let s = try #require(RTSPTarget(uri: "rtsp://127.0.0.1:8554/live/cam1/trackID=1"))
        #expect(s.streamID == "live/cam1" && s.trackID == 1)
        // A client without Content-Base appends the control URL after the query.
        let q = try #require(RTSPTarget(uri: "rtsp://h/live/cam1?token=abc/trackID=0"))
        #expect(q.streamID == "live/cam1" && q.trackID == 0 && q.params == ["token": "abc"])
        let path = try #require(RTSPTarget(uri: "/a/b/c/"))
        #expect(path.streamID == "a/b/c")
    }

    @Test func rejectsWhatIsNotAStream() {
        #expect(RTSPTarget(uri: "*") == nil)
        #expect(RTSPTarget(uri: "http://h/live/a") == nil)
        #expect(RTSPTarget(uri: "rtsp://h/") == nil)
        #expect(RTSPTarget(uri: "rtsp://h/live/../etc") == nil)
        #expect(RTSPTarget(uri: "rtsp://h/live/a b") == nil)
    }
}

@Suite struct RTSPTransportTests {
    @Test func tcpInterleaved() {
        #expect(RTSPTransport.parse("RTP/AVP/TCP;unicast;interleaved=0-1", defaultChannels: (4, 5)) == .tcp(rtp: 0, rtcp: 1))
        #expect(RTSPTransport.parse("RTP/AVP/TCP;unicast;interleaved=2", defaultChannels: (4, 5)) == .tcp(rtp: 2, rtcp: 3))
        #expect(RTSPTransport.parse("RTP/AVP/TCP;unicast", defaultChannels: (4, 5)) == .tcp(rtp: 4, rtcp: 5))
        #expect(RTSPTransport.parse("rtp/avp/tcp;unicast;interleaved=0-1;mode=\"PLAY\"", defaultChannels: (4, 5)) == .tcp(rtp: 0, rtcp: 1))
    }

    @Test func udpUnicastAndAlternatives() {
        #expect(RTSPTransport.parse("RTP/AVP;unicast;client_port=5000-5001", defaultChannels: (0, 1)) == .udp(rtpPort: 5000, rtcpPort: 5001))
        #expect(RTSPTransport.parse("RTP/AVP/UDP;unicast;client_port=6000", defaultChannels: (0, 1)) == .udp(rtpPort: 6000, rtcpPort: 6001))
        // The first supported alternative wins; multicast and SAVP are skipped.
        #expect(RTSPTransport.parse("RTP/SAVP;unicast;client_port=1-2,RTP/AVP;multicast,RTP/AVP/TCP;interleaved=6-7",
                                    defaultChannels: (0, 1)) == .tcp(rtp: 6, rtcp: 7))
    }

    @Test func nonsenseIsUnsupported() {
        for header in ["", "garbage", "RTP/AVP;unicast", "RTP/AVP/TCP;interleaved=300-301", "RTP/AVP/TCP;interleaved=x",
                       "RTP/AVP;client_port=0-1", "RTP/AVP;client_port=70000", "RTP/AVP/TCP;interleaved=3-3",
                       "RTP/AVP/TCP;interleaved=0-1;mode=record", "RAW/RAW/UDP;unicast;client_port=1000-1001"] {
            #expect(RTSPTransport.parse(header, defaultChannels: (0, 1)) == nil, "\(header)")
        }
    }

    /// CI's fuzz smoke (FuzzRTSP) found this: an empty parameter (";;" with a space between, or
    /// a bare "=") trapped on an empty `split` result, a crash any RTSP client could cause with
    /// one SETUP.
    @Test func emptyParametersAreSkipped() {
        #expect(RTSPTransport.parse("RTP/AVP/TCP; ;interleaved=0-1", defaultChannels: (4, 5)) == .tcp(rtp: 0, rtcp: 1))
        #expect(RTSPTransport.parse("RTP/AVP/TCP;=;unicast", defaultChannels: (4, 5)) == .tcp(rtp: 4, rtcp: 5))
        #expect(RTSPTransport.parse("RTP/AVP; ;=7;client_port=5000", defaultChannels: (0, 1)) == .udp(rtpPort: 5000, rtcpPort: 5001))
        #expect(RTSPTransport.parse("RTP/AVP/TCP;interleaved=", defaultChannels: (0, 1)) == nil)
    }

    @Test func responseHeaders() {
        #expect(RTSPTransport.tcp(rtp: 2, rtcp: 3).responseHeader() == "RTP/AVP/TCP;unicast;interleaved=2-3")
        #expect(RTSPTransport.udp(rtpPort: 5000, rtcpPort: 5001).responseHeader(serverPorts: (30000, 30001))
                == "RTP/AVP;unicast;client_port=5000-5001;server_port=30000-30001")
    }

    @Test func portAllocatorHandsOutEvenPairsRoundRobin() {
        let a = UDPPortAllocator(min: 30001, max: 30006)
        #expect(a.range == 30002...30005)
        let p1 = a.reserve(), p2 = a.reserve()
        #expect(p1 == 30002 && p2 == 30004)
        #expect(a.reserve() == nil)
        a.release(30002)
        #expect(a.reserve() == 30002)
        #expect(a.inUseCount == 2)
    }
}
