import Foundation
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayGB28181
import Testing

/// The ZLMediaKit-dialect API over real HTTP on a running server, with real GB28181 devices
/// (`relay-bench gb-send`), as a GB platform drives its media node (the requests wvp-GB28181-pro
/// sends; see Tests/RelayZLMTests for the field-by-field contract and its sources).
@Suite(.serialized)
struct ZLMAPITests {
    static let secret = "035c73f7-bb6b-4889-a715-d9eb2d1925cc"
    static let zlm = #""zlm": {"enabled": true, "secret": "035c73f7-bb6b-4889-a715-d9eb2d1925cc", "media_server_id": "node1"}"#

    /// Registration as wvp does it, on the HTTP-FLV port and on the admin port: the ports it
    /// reads are the listeners' own.
    @Test func registerOnBothPorts() async throws {
        let server = try await TestServer.start(Self.zlm)
        defer { Task { await server.stop() } }
        for port in [server.httpPort, server.adminPort] {
            let api = ZLMClient(port: port, secret: Self.secret)
            let reply = try await api.call("getServerConfig")
            #expect(reply["code"]?.int == 0)
            let map = try #require(reply["data"]?.items.first)
            #expect(map["general.mediaServerId"]?.string == "node1")
            #expect(map["http.port"]?.string == String(server.httpPort))
            #expect(map["rtmp.port"]?.string == String(server.rtmpPort))
            #expect(map["rtsp.port"]?.string == String(server.rtspPort))
            #expect(map["rtp_proxy.port"]?.string == String(try #require(server.gb.sharedUDPPort)))
            #expect(map["hook.alive_interval"]?.string == "10.0")
            // A wrong secret is the dialect's -100 on an HTTP 200.
            let wrong = try await ZLMClient(port: port, secret: "nope").post("getServerConfig", [:])
            #expect(wrong.status == 200 && wrong.json?["code"]?.int == -100)
        }
        let set = try await ZLMClient(port: server.httpPort, secret: Self.secret)
            .call("setServerConfig", ["hook.enable": "1", "hook.on_stream_changed": "http://127.0.0.1:9/index/hook/on_stream_changed",
                                      "rtp_proxy.port_range": "47500,47599"])
        #expect(set["code"]?.int == 0 && set["changed"]?.int == 2)
        #expect(server.gb.portRange == 47500...47599)
    }

    /// openRtpServer (UDP, port from the range) → a device sends PS there → the stream plays as
    /// `rtp/<hex>`; getRtpInfo, getMediaInfo(schema=rtsp), getMediaList (origin rtp_push with
    /// `/rtp/<hex>`), getSnap (a JPEG through RTSP on loopback), then closeRtpServer ends it.
    @Test func udpReceiverPlaysAndIsDescribed() async throws {
        let server = try await TestServer.start(Self.zlm, gb28181: #", "port_min": 47600, "port_max": 47699"#)
        defer { Task { await server.stop() } }
        let api = ZLMClient(port: server.httpPort, secret: Self.secret)
        let open = try await api.call("openRtpServer", ["tcp_mode": "0", "stream_id": "05F5E101", "re_use_port": "0", "port": "0",
                                                        "only_track": "0", "ssrc": "100000001"])
        #expect(open["code"]?.int == 0)
        let port = try #require(open["port"]?.int)
        #expect((47600...47699).contains(port))
        let device = try await GB28181Tests.h264G711Device(["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000001"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("rtp/05F5E101"), "device: \(device.stderr)")

        let rtp = try await api.call("getRtpInfo", ["stream_id": "05F5E101"])
        #expect(rtp["exist"]?.bool == true && rtp["local_port"]?.int == port && rtp["peer_ip"]?.string == "127.0.0.1")
        let info = try await api.call("getMediaInfo", ["app": "rtp", "schema": "rtsp", "stream": "05F5E101", "vhost": "__defaultVhost__"])
        #expect(info["code"]?.int == 0 && info["app"]?.string == "rtp" && info["originType"]?.int == 3)
        #expect(info["tracks"]?.items.compactMap { $0["codec_id"]?.int }.sorted() == [0, 3], "H.264 and G.711A: \(info)")
        let list = try await api.call("getMediaList", ["vhost": "__defaultVhost__", "schema": "rtsp"])
        #expect(list["data"]?.items.first?["originUrl"]?.string == "rtp://__defaultVhost__/rtp/05F5E101")

        let snap = try await api.get("getSnap", ["url": "rtsp://127.0.0.1:\(server.rtspPort)/rtp/05F5E101", "timeout_sec": "10",
                                                 "expire_sec": "1", "async": "1"])
        #expect(snap.status == 200 && snap.headers["content-type"] == "image/jpeg", "\(snap.text.prefix(200))")
        #expect(snap.body.count > 1000 && snap.body.prefix(2) == Data([0xFF, 0xD8]))

        // A player of the dialect's URL counts in the rtmp schema; kick_session ends it by the
        // admin API's player id; close_streams without force leaves a watched stream.
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/rtp/05F5E101.live.flv",
                                                     group: MultiThreadedEventLoopGroup.singleton)
        #expect(await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }.videoFrames > 0)
        let rtmpEntry = try await api.call("getMediaList", ["schema": "rtmp", "app": "rtp", "stream": "05F5E101"])["data"]?.items.first
        #expect(rtmpEntry?["readerCount"]?.int == 1 && rtmpEntry?["totalReaderCount"]?.int == 1)
        let kept = try await api.call("close_streams", ["vhost": "__defaultVhost__", "app": "rtp", "stream": "05F5E101", "force": "0"])
        #expect(kept["count_hit"]?.int == 2 && kept["count_closed"]?.int == 0)
        let players = try await AdminHTTP(port: server.adminPort).get("/api/v1/players?stream=rtp/05F5E101").value
        let id = try #require(players["players"]?.items.first?["id"]?.int)
        #expect(try await api.call("kick_session", ["id": String(id)])["code"]?.int == 0)
        #expect(await player.wait(timeout: .seconds(5)) { $0.closed }.closed)
        await player.close()

        #expect(try await api.call("closeRtpServer", ["stream_id": "05F5E101"])["hit"]?.int == 1)
        #expect(await GB28181Tests.wait { server.server.context.registry.source("rtp/05F5E101") == nil })
        #expect(server.gb.list().isEmpty)
        let gone = try await api.call("getMediaInfo", ["app": "rtp", "schema": "rtsp", "stream": "05F5E101", "vhost": "__defaultVhost__"])
        #expect(gone["code"]?.int == -500)
    }

    /// on_publish renames `rtp/05F5E105` to `rtp/dev_chn` (set with setServerConfig as wvp
    /// does): the stream plays under the new name, its originUrl keeps the hex id, and the calls
    /// wvp makes with the new name (updateRtpServerSSRC, pauseRtpCheck, closeRtpServer) find the
    /// receiver; closing it frees the port and ends the stream.
    @Test func renamedStreamAnswersToBothNames() async throws {
        let hooks = try await ZLMHookResponder.start(streamReplace: "dev_chn")
        defer { hooks.stop() }
        let server = try await TestServer.start(Self.zlm, gb28181: #", "port_min": 47700, "port_max": 47799"#)
        defer { Task { await server.stop() } }
        let api = ZLMClient(port: server.httpPort, secret: Self.secret)
        let set = try await api.call("setServerConfig", ["hook.enable": "1", "hook.on_publish": hooks.url("on_publish")])
        #expect(set["changed"]?.int == 1)
        let open = try await api.call("openRtpServer", ["tcp_mode": "0", "stream_id": "05F5E105", "port": "0", "ssrc": "100000005"])
        let port = try #require(open["port"]?.int)
        let device = try await GB28181Tests.h264G711Device(["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000005"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("rtp/dev_chn"), "device: \(device.stderr)")
        #expect(hooks.calls.contains { $0.name == "on_publish" })
        #expect(server.server.context.registry.source("rtp/05F5E105") == nil)

        let entry = try await api.call("getMediaList", ["schema": "rtsp", "app": "rtp"])["data"]?.items.first
        #expect(entry?["stream"]?.string == "dev_chn")
        #expect(entry?["originUrl"]?.string == "rtp://__defaultVhost__/rtp/05F5E105")
        #expect(try await api.call("getRtpInfo", ["stream_id": "dev_chn"])["local_port"]?.int == port)
        #expect(try await api.call("updateRtpServerSSRC", ["ssrc": "100000005", "stream_id": "dev_chn"])["code"]?.int == 0)
        #expect(try await api.call("pauseRtpCheck", ["stream_id": "dev_chn"])["code"]?.int == 0)
        #expect(server.gb.list().first?.checkPaused == true)
        #expect(try await api.call("closeRtpServer", ["stream_id": "dev_chn"])["hit"]?.int == 1)
        #expect(await GB28181Tests.wait { server.server.context.registry.source("rtp/dev_chn") == nil })
        #expect(server.gb.list().isEmpty)
        // The port is free again: a new receiver may bind it.
        let reopen = try await api.call("openRtpServer", ["tcp_mode": "0", "stream_id": "05F5E106", "port": String(port)])
        #expect(reopen["code"]?.int == 0 && reopen["port"]?.int == port, "\(reopen)")
    }

    /// tcp_mode 2: openRtpServer waits; connectRtpServer names the device after its answer; the
    /// server dials it and the stream plays.
    @Test func tcpActiveAfterConnectRtpServer() async throws {
        let server = try await TestServer.start(Self.zlm)
        defer { Task { await server.stop() } }
        let api = ZLMClient(port: server.httpPort, secret: Self.secret)
        let device = try await GB28181Tests.h264G711Device(["--mode", "tcp-active", "--host", "127.0.0.1", "--port", "0",
                                                            "--ssrc", "0100000003"])
        defer { device.terminate() }
        let address = try #require(await GB28181Tests.listeningAddress(device), "device never listened: \(device.stderr)")
        let devicePort = try #require(address.split(separator: ":").last.map(String.init))
        let open = try await api.call("openRtpServer", ["tcp_mode": "2", "stream_id": "05F5E103", "port": "0", "ssrc": "100000003"])
        #expect(open["code"]?.int == 0 && (open["port"]?.int ?? 0) > 0)
        let connect = try await api.call("connectRtpServer", ["dst_url": "127.0.0.1", "dst_port": devicePort, "stream_id": "05F5E103"])
        #expect(connect["code"]?.int == 0)
        #expect(await server.waitPlayable("rtp/05F5E103"), "device: \(device.stderr)")
    }

    /// Cascade: startSendRtp over UDP from this server to a second one's GB28181 receiver (the
    /// upper platform's media node); the forwarded stream plays there, the sender counts as a
    /// reader here, and stopSendRtp ends it.
    @Test func cascadeWithStartSendRtp() async throws {
        let lower = try await TestServer.start(Self.zlm)
        defer { Task { await lower.stop() } }
        let upper = try await TestServer.start()
        defer { Task { await upper.stop() } }
        let api = ZLMClient(port: lower.httpPort, secret: Self.secret)
        _ = try await api.call("openRtpServer", ["tcp_mode": "0", "stream_id": "05F5E104", "port": "0", "ssrc": "100000004"])
        let port = try #require(lower.gb.list().first?.port)
        let device = try await GB28181Tests.h264G711Device(["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000004"])
        defer { device.terminate() }
        #expect(await lower.waitPlayable("rtp/05F5E104"), "device: \(device.stderr)")

        _ = try await upper.gb.open(streamID: "up/cam", ssrc: 200_000_001, mode: .udp)
        let upperPort = try #require(upper.gb.sharedUDPPort)
        let send = try await api.call("startSendRtp", ["vhost": "__defaultVhost__", "app": "rtp", "stream": "05F5E104",
                                                       "ssrc": "0200000001", "src_port": "0", "pt": "96", "use_ps": "1",
                                                       "only_audio": "0", "is_udp": "1", "udp_rtcp_timeout": "0",
                                                       "dst_url": "127.0.0.1", "dst_port": String(upperPort)])
        #expect(send["code"]?.int == 0 && (send["local_port"]?.int ?? 0) > 0, "\(send)")
        #expect(await upper.waitPlayable("up/cam"), "the cascaded stream never arrived")
        let info = try await api.call("getMediaInfo", ["app": "rtp", "schema": "rtsp", "stream": "05F5E104", "vhost": "__defaultVhost__"])
        #expect(info["totalReaderCount"]?.int == 1)
        let stop = try await api.call("stopSendRtp", ["vhost": "__defaultVhost__", "app": "rtp", "stream": "05F5E104", "ssrc": "0200000001"])
        #expect(stop["code"]?.int == 0)
    }
}
