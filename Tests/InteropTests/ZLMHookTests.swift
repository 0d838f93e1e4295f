import Foundation
import RelayCore
import Testing

/// The dialect's hooks that the platform test does not reach, from a real server to a real HTTP
/// endpoint: on_server_started (the config map, at start), on_stream_not_found (a play of a
/// missing stream), on_rtp_server_timeout (a receiver that never got media) and
/// on_send_rtp_stopped (a cascade sender stopped), on_record_flv (a recording closed). Bodies as ZLMediaKit `server/WebHook.cpp`
/// writes them; every one carries `mediaServerId`.
@Suite(.serialized)
struct ZLMHookTests {
    @Test func startedNotFoundRtpTimeoutAndSenderStopped() async throws {
        let hooks = try await ZLMHookResponder.start(streamReplace: "")
        defer { hooks.stop() }
        let names = ["on_server_started", "on_stream_not_found", "on_rtp_server_timeout", "on_send_rtp_stopped", "on_record_flv"]
        let dir = NSTemporaryDirectory() + "liverelay-zlm-rec-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let urls = names.map { "\"\($0)\": \"\(hooks.url($0))\"" }.joined(separator: ", ")
        let server = try await TestServer.start("""
            "zlm": {"enabled": true, "secret": "s3", "media_server_id": "node9", "hooks": {\(urls)}},
            "source": {"play_wait_ms": 300, "publisher_grace_ms": 0},
            "record": {"enabled": true, "dir": "\(dir)", "streams": ["live/*"], "segment_ms": 0}
            """, gb28181: #", "receiver_timeout_ms": 500"#)
        let api = ZLMClient(port: server.httpPort, secret: "s3")

        let started = await hooks.wait("on_server_started")
        #expect(started?["mediaServerId"] as? String == "node9" && started?["general.mediaServerId"] as? String == "node9")
        #expect(started?["rtmp.port"] as? String == String(server.rtmpPort) && started?["hook.alive_interval"] != nil, "\(String(describing: started))")

        let missing = try await AdminHTTP(port: server.httpPort).request("GET", "/rtp/nothing.live.flv")
        #expect(missing.status == 404)
        let notFound = await hooks.wait("on_stream_not_found")
        #expect(notFound?["app"] as? String == "rtp" && notFound?["stream"] as? String == "nothing" && notFound?["schema"] as? String == "http",
                "\(String(describing: notFound))")

        let opened = try await api.call("openRtpServer", ["port": "0", "tcp_mode": "0", "stream_id": "05F5E1FF", "ssrc": "100000255"])
        let port = try #require(opened["port"]?.int)
        let timeout = await hooks.wait("on_rtp_server_timeout")
        #expect(timeout?["stream_id"] as? String == "05F5E1FF" && timeout?["local_port"] as? Int == port)
        #expect(timeout?["tcp_mode"] as? Int == 0 && timeout?["ssrc"] as? Int == 100_000_255 && timeout?["mediaServerId"] as? String == "node9")
        let listed = try await api.call("listRtpServer")
        #expect(listed["data"] == .array([]), "the timed-out receiver is closed: \(listed)")

        let publisher = try server.publish(try await TestMedia.shared.h264AACFLV(), stream: "live/cam")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/cam"))
        let sink = try #require(server.gb.sharedUDPPort)  // any UDP port will do as the upper platform
        let sent = try await api.call("startSendRtp", ["vhost": "__defaultVhost__", "app": "live", "stream": "cam", "ssrc": "0300000001",
                                                       "src_port": "0", "pt": "96", "use_ps": "1", "is_udp": "1",
                                                       "dst_url": "127.0.0.1", "dst_port": String(sink)])
        #expect(sent["code"]?.int == 0, "\(sent)")
        let stopped = try await api.call("stopSendRtp", ["vhost": "__defaultVhost__", "app": "live", "stream": "cam", "ssrc": "0300000001"])
        #expect(stopped["code"]?.int == 0, "\(stopped)")
        let sendStopped = await hooks.wait("on_send_rtp_stopped")
        #expect(sendStopped?["app"] as? String == "live" && sendStopped?["stream"] as? String == "cam", "\(String(describing: sendStopped))")
        #expect(sendStopped?["ssrc"] as? String == "0300000001" && sendStopped?["mediaServerId"] as? String == "node9")

        publisher.terminate()
        let record = await hooks.wait("on_record_flv", seconds: 15)
        #expect(record?["app"] as? String == "live" && record?["stream"] as? String == "cam", "\(String(describing: record))")
        let path = record?["file_path"] as? String ?? ""
        #expect(path.hasPrefix(dir) && path.hasSuffix(".flv") && FileManager.default.fileExists(atPath: path), "\(path)")
        #expect((record?["file_size"] as? Int ?? 0) > 0 && (record?["time_len"] as? Double ?? 0) > 0, "\(String(describing: record))")
        await server.stop()
    }
}
