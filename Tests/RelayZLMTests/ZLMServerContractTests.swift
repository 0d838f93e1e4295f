import Foundation
import NIOConcurrencyHelpers
import RelayCore
import Testing
@testable import RelayZLM

/// The server routes against recorded request/response pairs: wvp-GB28181-pro's registration
/// (`media/zlm/ZLMMediaServerStatusManager.java` `online`, `initPort`, `setZLMConfig`;
/// `media/zlm/dto/ZLMServerConfig.java` for the keys read) and ZLMediaKit's answers
/// (`server/WebApi.cpp` `getServerConfig`, `setServerConfig`, `restartServer`, `version`;
/// key names and defaults from `conf/config.ini`).
@Suite struct ZLMServerContractTests {
    /// wvp polls `secret=…` until `data[0]` holds the keys it reads; every value a string.
    @Test func getServerConfigHasEveryKeyAPlatformReads() async throws {
        let h = try await ZLMHarness.start(source: #", "idle_timeout_ms": 20000"#)
        defer { Task { await h.stop() } }
        let reply = try await h.post("getServerConfig", "")
        #expect(reply["code"] == .number(0))
        guard case .array(let data)? = reply["data"], case .object(let map)? = data.first else {
            Issue.record("no data[0]: \(reply)")
            return
        }
        let expected: [String: String] = [
            "general.mediaServerId": "your_server_id",          // config.ini [general] mediaServerId
            "general.streamNoneReaderDelayMS": "20000",         // [general] streamNoneReaderDelayMS = source.idle_timeout_ms
            "hook.enable": "1",                                 // [hook] enable
            "hook.alive_interval": "10.0",                      // [hook] alive_interval (wvp: Float, required)
            "hook.timeoutSec": "10",                            // [hook] timeoutSec
            "http.port": "8080", "http.sslport": "0",           // [http] port (the HTTP-FLV listener), sslport
            "rtmp.port": "1935", "rtmp.sslport": "0",           // [rtmp]
            "rtsp.port": "8554", "rtsp.sslport": "0",           // [rtsp]
            "rtp_proxy.port_range": "47300-47399",              // [rtp_proxy] port_range
            "transcode.suffix": "",                             // wvp ZLMServerConfig transcodeSuffix
            "hook.on_publish": "", "hook.on_stream_changed": "", "hook.on_record_mp4": "", "hook.on_flow_report": "",
        ]
        for (key, value) in expected { #expect(map[key] == .string(value), "\(key)") }
        #expect(map["rtp_proxy.port"] == .string(String(try #require(h.gb.sharedUDPPort))))  // [rtp_proxy] port
        for key in ["ffmpeg.bin", "ffmpeg.cmd", "ffmpeg.snap", "protocol.enable_rtsp", "protocol.continue_push_ms"] {
            #expect(map[key] != nil, "\(key)")
        }
        #expect(map.values.allSatisfy { if case .string = $0 { true } else { false } })
        // The secret is never echoed (ZLMediaKit would list api.secret).
        #expect(map["api.secret"] == nil)
        #expect(!String(decoding: ZLMReply.encode(reply), as: UTF8.self).contains(ZLMHarness.secret))
        #expect(h.facade.serverConfigMap().count == map.count)
    }

    /// What wvp pushes on every online transition (SM setZLMConfig): ten hook URLs, six blank
    /// hooks, hook.enable, hook.timeoutSec, protocol.continue_push_ms, rtp_proxy.port_range
    /// "40000,45000"→"40000-45000", ffmpeg.snap. WA counts the keys it changed in `changed`
    /// and skips keys it does not know.
    @Test func setServerConfigAsWvpPushesIt() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let calls = NIOLockedValueBox(0)
        h.settings.onHooksChanged { calls.withLockedValue { $0 += 1 } }
        let prefix = "http://10.0.0.1:18080/index/hook"
        let names = ["on_play", "on_publish", "on_server_started", "on_stream_changed", "on_stream_none_reader", "on_stream_not_found",
                     "on_server_keepalive", "on_send_rtp_stopped", "on_rtp_server_timeout", "on_record_mp4"]
        var form = names.map { "hook.\($0)=\(prefix)/\($0)" }
        form += ["on_flow_report", "on_http_access", "on_record_ts", "on_rtsp_auth", "on_rtsp_realm", "on_shell_login"].map { "hook.\($0)=" }
        form += ["hook.enable=1", "hook.timeoutSec=30", "protocol.continue_push_ms=3000", "rtp_proxy.port_range=40000-45000",
                 "ffmpeg.snap=%25s+-i+%25s+-y", "general.unknownKey=1"]
        let reply = try await h.post("setServerConfig", form.joined(separator: "&"))
        #expect(reply["code"] == .number(0))
        // Ten URLs, timeoutSec and the port range changed; blanks, enable (already on) and the
        // keys not applied here are not counted.
        #expect(reply["changed"] == .number(12))
        #expect(h.settings.hookURLs.count == 10)
        #expect(h.settings.hookURLs["on_publish"] == "\(prefix)/on_publish")
        #expect(h.settings.hookTimeoutMs == 30_000)
        #expect(h.gb.portRange == 40000...45000)
        #expect(calls.withLockedValue { $0 } == 1)
        let map = h.facade.serverConfigMap()
        #expect(map["hook.on_stream_changed"] == "\(prefix)/on_stream_changed")
        #expect(map["hook.timeoutSec"] == "30")
        #expect(map["rtp_proxy.port_range"] == "40000-45000")

        // The same push again changes nothing and tells no one.
        #expect(try await h.post("setServerConfig", form.joined(separator: "&"))["changed"] == .number(0))
        #expect(calls.withLockedValue { $0 } == 1)
        // wvp's spelling "40000,45000"; alive_interval; hook.enable=0.
        let more = try await h.post("setServerConfig", "rtp_proxy.port_range=30000,30999&hook.alive_interval=5&hook.enable=0")
        #expect(more["changed"] == .number(3))
        #expect(h.gb.portRange == 30000...30999 && h.settings.aliveIntervalSeconds == 5 && !h.settings.hookEnabled)
        #expect(calls.withLockedValue { $0 } == 2)
    }

    /// One unusable value refuses the whole call with nothing applied.
    @Test func setServerConfigIsAllOrNothing() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let reply = try await h.post("setServerConfig", "hook.on_publish=http://x/on_publish&rtp_proxy.port_range=50000-40000")
        #expect(reply["code"] == .number(-300))
        #expect(h.settings.hookURLs.isEmpty)
        #expect(try await h.post("setServerConfig", "hook.alive_interval=0")["code"] == .number(-300))
        #expect(try await h.post("setServerConfig", "hook.on_play=ftp://x")["code"] == .number(-300))
        #expect(h.settings.aliveIntervalSeconds == 10)
    }

    /// restartServer is refused with the reason (WA would exit and rely on a daemon);
    /// version answers WA's `data: {buildTime, branchName, commitHash}`.
    @Test func restartIsRefusedAndVersionAnswers() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let restart = try await h.post("restartServer", "")
        #expect(restart["code"] == .number(-1))
        if case .string(let msg)? = restart["msg"] { #expect(msg.hasPrefix("restart is not supported")) }
        let version = try await h.post("version", "")
        #expect(version["code"] == .number(0))
        for key in ["buildTime", "branchName", "commitHash"] { #expect(version["data"]?[key] != nil) }
        let list = try await h.post("getApiList", "")
        #expect(list["data"].map(count) == ZLMFacade.routeNames.count)
    }

    /// Off unless `zlm.enabled`: no route at all.
    @Test func noRouteWhenDisabled() async throws {
        let h = try await ZLMHarness.start(enabled: false)
        defer { Task { await h.stop() } }
        #expect(h.facade.httpRoutes.isEmpty)
        #expect(h.facade.name == "zlm")
    }
}
