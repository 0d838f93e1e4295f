import Foundation
import RelayCore
import RelayGB28181
import Testing
@testable import RelayZLM

/// The RTP receiver routes against recorded request/response pairs. Requests are what
/// wvp-GB28181-pro sends (`media/zlm/ZLMServerFactory.java` `createRTPServer`,
/// `closeRtpServer`; `gb28181/service/impl/PlayServiceImpl.java` `tcpActiveHandler`,
/// `InviteOKHandler`, `playbackPause`); replies are ZLMediaKit's (`server/WebApi.cpp`
/// `openRtpServer`, `closeRtpServer`, `listRtpServer`, `connectRtpServer`, `getRtpInfo`,
/// `updateRtpServerSSRC`, `pauseRtpCheck`). Field names are cited per test.
@Suite struct ZLMRtpContractTests {
    /// wvp: `tcp_mode=0&stream_id=05F5E101&re_use_port=0&port=0&ssrc=100000001` (SF
    /// createRTPServer, ssrc only with ssrc-check). ZLM replies `{"code":0,"port":N}` (WA
    /// openRtpServer `val["port"]`); port 0 takes one of `rtp_proxy.port_range`.
    @Test func openRtpServerUDPFromTheRange() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let reply = try await h.post("openRtpServer", "tcp_mode=0&stream_id=05F5E101&re_use_port=0&port=0&only_track=0&ssrc=100000001")
        #expect(reply["code"] == .number(0))
        guard case .number(let port)? = reply["port"] else { Issue.record("no port: \(reply)"); return }
        #expect((47300...47399).contains(Int(port)))
        let info = try #require(h.gb.receiver("rtp/05F5E101")?.info)
        #expect(info.mode == .udp && info.ssrc == 100_000_001 && info.port == Int(port) && !info.sharedPort)

        // The same stream_id again: WA "This stream already exists", InvalidArgs.
        let again = try await h.post("openRtpServer", "tcp_mode=0&stream_id=05F5E101&port=0")
        #expect(again["code"] == .number(-300))

        // listRtpServer: WA `{vhost, app, stream_id, port, ssrc, tcp_mode, only_track}`; wvp reads data[].stream_id.
        let list = try await h.post("listRtpServer", "")
        #expect(list["data"] == .array([.object([
            "vhost": .string("__defaultVhost__"), "app": .string("rtp"), "stream_id": .string("05F5E101"),
            "port": .number(port), "ssrc": .number(100_000_001), "tcp_mode": .number(0), "only_track": .number(0),
        ])]))

        // closeRtpServer: WA `{"code":0,"hit":1}` then `hit:0`; wvp checks `hit >= 1`.
        #expect(try await h.post("closeRtpServer", "stream_id=05F5E101")["hit"] == .number(1))
        #expect(try await h.post("closeRtpServer", "stream_id=05F5E101")["hit"] == .number(0))
        #expect(h.gb.list().isEmpty)
    }

    /// tcp_mode 1 listens on its own TCP port; tcp_mode 2 waits for connectRtpServer and still
    /// answers a non-zero port (wvp `RtpServerServiceImpl` treats port 0 as failure).
    @Test func openRtpServerTCPModes() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let passive = try await h.post("openRtpServer", "tcp_mode=1&stream_id=0BEBC201&port=0")
        #expect(passive["code"] == .number(0))
        #expect(h.gb.receiver("rtp/0BEBC201")?.info.mode == .tcpPassive)
        let active = try await h.post("openRtpServer", "tcp_mode=2&stream_id=0BEBC202&port=0&ssrc=200000002")
        #expect(active["code"] == .number(0))
        guard case .number(let port)? = active["port"] else { Issue.record("no port"); return }
        #expect(port > 0)
        #expect(h.gb.receiver("rtp/0BEBC202")?.info.mode == .tcpActive)
        // The old spelling enable_tcp=1 (WA: "兼容老版本请求") is tcp_mode 1.
        #expect(try await h.post("openRtpServer", "enable_tcp=1&stream_id=0BEBC203&port=0")["code"] == .number(0))
        #expect(h.gb.receiver("rtp/0BEBC203")?.info.mode == .tcpPassive)

        // connectRtpServer(dst_url, dst_port, stream_id) (PS tcpActiveHandler): code 0; the
        // receiver dials the device.
        let connect = try await h.post("connectRtpServer", "dst_url=127.0.0.1&dst_port=9&stream_id=0BEBC202")
        #expect(connect["code"] == .number(0))
        #expect(h.gb.receiver("rtp/0BEBC202")?.info.deviceHost == "127.0.0.1")
        // A passive receiver does not dial: InvalidArgs. An unknown one: WA "can not find the stream", OtherFailed.
        #expect(try await h.post("connectRtpServer", "dst_url=127.0.0.1&dst_port=9&stream_id=0BEBC201")["code"] == .number(-300))
        #expect(try await h.post("connectRtpServer", "dst_url=127.0.0.1&dst_port=9&stream_id=NONE")["code"] == .number(-1))
        #expect(try await h.post("connectRtpServer", "stream_id=0BEBC202")["code"] == .number(-300))
    }

    /// getRtpInfo before media: WA `{"code":0,"exist":false}` and nothing else (SF
    /// createRTPServer reads `exist`, then `local_port`).
    @Test func getRtpInfoWithoutMedia() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let none = try await h.post("getRtpInfo", "stream_id=05F5E101")
        #expect(none == .object(["code": .number(0), "msg": .string("success"), "exist": .bool(false)]))
        _ = try await h.post("openRtpServer", "tcp_mode=0&stream_id=05F5E101&port=0")
        #expect(try await h.post("getRtpInfo", "stream_id=05F5E101")["exist"] == .bool(false))
        #expect(try await h.post("getRtpInfo", "")["code"] == .number(-300))
    }

    /// updateRtpServerSSRC(ssrc, stream_id) (PS InviteOKHandler): code 0; WA NotFound
    /// "RtpServer not found by stream_id" when none. pauseRtpCheck/resumeRtpCheck(stream_id):
    /// code 0, WA `val["code"] = API::NotFound` when none.
    @Test func updateSSRCAndPauseChecks() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.post("openRtpServer", "tcp_mode=0&stream_id=05F5E101&port=0&ssrc=100000001")
        #expect(try await h.post("updateRtpServerSSRC", "ssrc=100000009&stream_id=05F5E101")["code"] == .number(0))
        #expect(h.gb.receiver("rtp/05F5E101")?.info.ssrc == 100_000_009)
        let none = try await h.post("updateRtpServerSSRC", "ssrc=100000009&stream_id=NONE")
        #expect(none["code"] == .number(-500))
        #expect(none["msg"] == .string("RtpServer not found by stream_id"))
        #expect(try await h.post("updateRtpServerSSRC", "ssrc=4294967296&stream_id=05F5E101")["code"] == .number(-300))

        #expect(try await h.post("pauseRtpCheck", "stream_id=05F5E101")["code"] == .number(0))
        #expect(h.gb.receiver("rtp/05F5E101")?.info.checkPaused == true)
        #expect(try await h.post("resumeRtpCheck", "stream_id=05F5E101")["code"] == .number(0))
        #expect(h.gb.receiver("rtp/05F5E101")?.info.checkPaused == false)
        #expect(try await h.post("pauseRtpCheck", "stream_id=NONE")["code"] == .number(-500))
    }

    /// `app` may be given (WA defaults it to `kRtpAppName`, "rtp"); the configured `rtp_app`
    /// replaces "rtp" here.
    @Test func appDefaultsToTheConfiguredRtpApp() async throws {
        let h = try await ZLMHarness.start(zlm: #", "rtp_app": "gb""#)
        defer { Task { await h.stop() } }
        _ = try await h.post("openRtpServer", "stream_id=A1&port=0")
        _ = try await h.post("openRtpServer", "app=other&stream_id=A2&port=0")
        #expect(h.gb.list().map(\.streamID) == ["gb/A1", "other/A2"])
        #expect(try await h.post("closeRtpServer", "app=other&stream_id=A2")["hit"] == .number(1))
    }
}
