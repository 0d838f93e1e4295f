import Foundation
import RelayCore
import Testing
@testable import RelayZLM

/// The dialect's hook bodies and answers against what the other side reads. Sources of the
/// fields: ZLMediaKit `server/WebHook.cpp` (bodies, `mediaServerId`/`hook_index` on every one,
/// `code != 0` is a failure, on_stream_none_reader's `close`, on_publish's `stream_replace` and
/// `enable_audio`, on_rtp_server_timeout's `local_port`/`re_use_port`/`ssrc`/`stream_id`/`tcp_mode`);
/// `src/Common/MediaSource.h` (MediaOriginType: 1 rtmp_push, 2 rtsp_push, 3 rtp_push);
/// wvp-GB28181-pro `media/zlm/ZLMHttpHookListener.java` and `media/zlm/dto/hook/*` (what a
/// platform reads: `schema == "rtsp"`, `regist`, `originType`, `tracks[].codec_id`).
@Suite struct ZLMHookDialectTests {
    let settings = ZLMSettings(config: try! ZLMConfig.parse(["media_server_id": .string("node7")]))
    var dialect: ZLMHookDialect { ZLMHookDialect(settings: settings) }
    let device = SessionInfo(sessionID: "41", protocolName: "gb28181", remoteAddress: "10.0.0.9:5060",
                             params: ["ssrc": "0100000001", "mode": "udp"])

    func decode(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
    }

    @Test func eventsMapToTheDialectsHookNames() {
        let d = dialect
        #expect(d.hookName(.publish) == "on_publish")
        #expect(d.hookName(.streamReady) == "on_stream_changed")
        #expect(d.hookName(.publishDone) == "on_stream_changed")
        #expect(d.hookName(.idleTimeout) == "on_stream_none_reader")
        #expect(d.hookName(.streamNotFound) == "on_stream_not_found")
        #expect(d.hookName(.receiverTimeout) == "on_rtp_server_timeout")
        #expect(d.hookName(.senderStop) == "on_send_rtp_stopped")
        #expect(d.hookName(.started) == "on_server_started")
        #expect(d.hookName(.playDone) == nil && d.hookName(.receiveTimeout) == nil)
    }

    @Test func onPublishCarriesTheNodeAppStreamAndPeer() {
        let body = decode(dialect.bodies(.publish, stream: "rtp/05F5E101", session: device, extra: [:])[0])
        #expect(body["mediaServerId"] as? String == "node7")
        #expect(body["hook_index"] as? Int == 1)
        #expect(body["app"] as? String == "rtp" && body["stream"] as? String == "05F5E101")
        #expect(body["vhost"] as? String == "__defaultVhost__" && body["schema"] as? String == "rtp")
        #expect(body["ip"] as? String == "10.0.0.9" && body["port"] as? Int == 5060 && body["id"] as? String == "41")
        #expect(body["params"] as? String == "mode=udp&ssrc=0100000001")
        #expect(body["originType"] as? Int == 3)
    }

    @Test func streamChangedIsSentPerSchemaRTSPFirstAndWithdrawnOnlyWhenAnnounced() {
        let d = dialect
        #expect(d.bodies(.publishDone, stream: "rtp/x", session: device, extra: [:]).isEmpty,
                "never announced: nothing to withdraw")
        let tracks: JSONValue = .array([
            .object(["codec": .string("h264"), "kind": .string("video"), "width": .number(640), "height": .number(360)]),
            .object(["codec": .string("g711a"), "kind": .string("audio"), "sample_rate": .number(8000), "channels": .number(1)]),
        ])
        let up = d.bodies(.streamReady, stream: "rtp/dev_chn", session: device, extra: ["tracks": tracks]).map(decode)
        #expect(up.map { $0["schema"] as? String } == ["rtsp", "rtmp"])
        let first = up[0]
        #expect(first["regist"] as? Bool == true && first["originType"] as? Int == 3 && first["stream"] as? String == "dev_chn")
        let t = first["tracks"] as? [[String: Any]] ?? []
        #expect(t.map { $0["codec_id"] as? Int } == [0, 3])
        #expect(t.first?["width"] as? Int == 640 && t.last?["sample_rate"] as? Int == 8000)
        #expect((first["originUrl"] as? String)?.hasSuffix("/rtp/dev_chn") == true)
        let down = d.bodies(.publishDone, stream: "rtp/dev_chn", session: device, extra: [:]).map(decode)
        #expect(down.map { $0["regist"] as? Bool } == [false, false] && down[0]["schema"] as? String == "rtsp")
        #expect(d.bodies(.publishDone, stream: "rtp/dev_chn", session: device, extra: [:]).isEmpty, "withdrawn once")
    }

    @Test func rtpServerTimeoutHasThePortModeAndNumericSSRC() {
        let body = decode(dialect.bodies(.receiverTimeout, stream: "rtp/05F5E101", session: nil, extra: [
            "local_port": .number(40002), "mode": .string("tcp-passive"), "ssrc": .string("0100000001"), "timeout_ms": .number(15000),
        ])[0])
        #expect(body["local_port"] as? Int == 40002 && body["tcp_mode"] as? Int == 1)
        #expect(body["ssrc"] as? Int == 100_000_001 && body["stream_id"] as? String == "05F5E101")
        #expect(body["re_use_port"] as? Bool == false)
    }

    @Test func answersAllowOnlyWithCodeZero() {
        let d = dialect
        let ok = d.decision(.publish, stream: "rtp/05F5E101", status: 200, answer: .object([
            "code": .number(0), "msg": .string("success"), "stream_replace": .string("dev_chn"), "enable_audio": .bool(false),
            "enable_mp4": .bool(true),
        ]), reason: nil)
        #expect(ok.allowed && ok.streamReplace == "rtp/dev_chn" && ok.enableAudio == false)
        let denied = d.decision(.publish, stream: "rtp/a", status: 200, answer: .object(["code": .number(-1), "msg": .string("fail")]), reason: nil)
        #expect(!denied.allowed && denied.reason.contains("fail"))
        #expect(!d.decision(.play, stream: "rtp/a", status: 500, answer: nil, reason: nil).allowed)
        #expect(d.decision(.play, stream: "rtp/a", status: 200, answer: .object(["code": .string("0")]), reason: nil).allowed)
    }

    @Test func noneReaderClosesOnlyWhenTold() {
        let d = dialect
        #expect(!d.decision(.idleTimeout, stream: "rtp/a", status: 200, answer: .object(["code": .number(0), "close": .bool(true)]), reason: nil).keep)
        #expect(d.decision(.idleTimeout, stream: "rtp/a", status: 200, answer: .object(["code": .number(0), "close": .bool(false)]), reason: nil).keep)
        #expect(d.decision(.idleTimeout, stream: "rtp/a", status: 200, answer: .object(["code": .number(0)]), reason: nil).keep)
        #expect(d.unanswered(.idleTimeout, failOpen: false, reason: "timed out").keep, "no answer keeps the stream")
        #expect(!d.unanswered(.publish, failOpen: false, reason: "timed out").allowed)
        #expect(d.unanswered(.publish, failOpen: true, reason: "timed out").allowed)
    }

    @Test func serverStartedIsTheConfigMapWithTheNodeID() {
        let d = dialect
        d.setConfigMap { ["general.mediaServerId": "node7", "rtmp.port": "1935"] }
        let body = decode(d.bodies(.started, stream: nil, session: nil, extra: [:])[0])
        #expect(body["mediaServerId"] as? String == "node7" && body["rtmp.port"] as? String == "1935")
        #expect(body["general.mediaServerId"] as? String == "node7")
    }

    @Test func hooksFollowSetServerConfigAndHookEnable() async throws {
        let settings = ZLMSettings(config: try ZLMConfig.parse([:]))
        let hooks = ZLMHooks(settings: settings, native: RelayConfig.default.hooks, logger: .init(label: "zlm-hooks"))
        #expect(!hooks.client.isConfigured(.publish))
        for (key, value) in [("hook.on_publish", "http://127.0.0.1:9/index/hook/on_publish"), ("hook.timeoutSec", "30")] {
            if let change = try ZLMSettings.change(key: key, value: value) { _ = settings.apply(change) }
        }
        settings.hooksChanged()
        #expect(hooks.client.isConfigured(.publish) && !hooks.client.isConfigured(.play))
        #expect(ZLMHooks.config(settings, RelayConfig.default.hooks).endpoints["on_publish"]?.timeoutMs == 30_000)
        if let off = try ZLMSettings.change(key: "hook.enable", value: "0") { _ = settings.apply(off) }
        settings.hooksChanged()
        #expect(!hooks.client.isConfigured(.publish), "hook.enable 0 sends none")
        await hooks.stop()
    }
}
