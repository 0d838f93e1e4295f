import Foundation
import NIOCore
import NIOPosix
import RelayCore
import RelayGB28181
import Testing

/// What a GB28181 platform does to a receiver after opening it (issue 20), through the native
/// admin API with the real server, `relay-bench gb-send` as the device and a real hook server:
/// the receiver timeout, PUT of the SSRC / device / paused checks, tcp-active without a device.
@Suite(.serialized)
struct GB28181ReceiverSeamsTests {
    /// An opened receiver that never gets media closes after `receiver_timeout_ms`, fires
    /// `on_receiver_timeout` with its port, mode and SSRC, and its port is free again.
    @Test func receiverTimeoutFiresTheHookAndFreesThePort() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_receiver_timeout": "\#(hooks.url)"}"#,
                                                gb28181: #", "receiver_timeout_ms": 500, "port_min": 47800, "port_max": 47849"#)
        let api = AdminHTTP(port: server.adminPort)
        let opened = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "rtp/05F5E101", "ssrc": "0100000001", "port": "auto"}"#)
        #expect(opened.status == 201, "\(opened.text)")
        let port = try #require(opened.value["port"]?.int)
        let passive = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "rtp/any", "mode": "tcp-passive"}"#)
        let passivePort = try #require(passive.value["port"]?.int, "\(passive.text)")
        let fired = await hooks.wait(for: "on_receiver_timeout", count: 2, seconds: 5)
        #expect(fired.count == 2, "\(hooks.events)")
        let udp = try #require(fired.first { $0["stream"] as? String == "rtp/05F5E101" })
        #expect(udp["local_port"] as? Int == port && udp["mode"] as? String == "udp" && udp["ssrc"] as? String == "0100000001")
        #expect(udp["timeout_ms"] as? Int == 500)
        let tcp = try #require(fired.first { $0["stream"] as? String == "rtp/any" })
        #expect(tcp["local_port"] as? Int == passivePort && tcp["mode"] as? String == "tcp-passive" && tcp["ssrc"] == nil, "\(tcp)")
        #expect((try await api.get("/api/v1/gb28181/receivers/rtp/05F5E101")).status == 404)
        // Both ports are free again.
        let u = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: port).get()
        try await u.close()
        let t = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: passivePort).get()
        try await t.close()
        await server.stop()
    }

    /// A receiver that gets media in time stays (its stream plays); the hook does not fire.
    @Test func aReceiverWithMediaDoesNotTimeOut() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_receiver_timeout": "\#(hooks.url)"}"#,
                                                gb28181: #", "receiver_timeout_ms": 1500"#)
        let api = AdminHTTP(port: server.adminPort)
        let opened = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "rtp/05F5E102", "ssrc": "0100000002"}"#)
        let port = try #require(opened.value["port"]?.int, "\(opened.text)")
        let device = try await GB28181Tests.h264G711Device(["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000002"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("rtp/05F5E102"), "device: \(device.stderr)")
        try await Task.sleep(nanoseconds: 2_000_000_000)
        #expect(server.gb.receiver("rtp/05F5E102")?.info.state == .receiving)
        #expect(hooks.events("on_receiver_timeout").isEmpty)
        await server.stop()
    }

    /// tcp-active opened without a device, then PUT: the SSRC the device answered with, paused
    /// checks, the device to dial — ffprobe plays what it sends. Bad PUTs say why.
    @Test func putUpdatesSSRCCheckPausedAndDevice() async throws {
        let server = try await TestServer.start()
        let api = AdminHTTP(port: server.adminPort)
        let opened = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "rtp/05F5E161", "mode": "tcp-active", "ssrc": "0100000061"}"#)
        #expect(opened.status == 201, "\(opened.text)")
        #expect(opened.value["port"] == nil && opened.value["state"]?.string == "waiting" && opened.value["check_paused"]?.bool == false)
        func put(_ stream: String, _ json: String) async throws -> AdminHTTP.Response {
            try await api.request("PUT", "/api/v1/gb28181/receivers/\(stream)", body: Array(json.utf8))
        }
        let ssrc = try await put("rtp/05F5E161", #"{"ssrc": "0100000062"}"#)
        #expect(ssrc.status == 200 && ssrc.value["ssrc"]?.string == "0100000062", "\(ssrc.text)")
        let paused = try await put("rtp/05F5E161", #"{"check_paused": true}"#)
        #expect(paused.status == 200 && paused.value["check_paused"]?.bool == true, "\(paused.text)")
        #expect(server.gb.receiver("rtp/05F5E161")?.info.checkPaused == true)

        _ = try await server.gb.open(streamID: "rtp/udp", ssrc: try GBSSRC.parse("0100000063"), mode: .udp)
        let taken = try await put("rtp/05F5E161", #"{"ssrc": "0100000063"}"#)
        #expect(taken.status == 409 && taken.text.contains("already in use"), "\(taken.text)")
        let notActive = try await put("rtp/udp", #"{"device": "127.0.0.1:9", "ssrc": "0100000064"}"#)
        #expect(notActive.status == 400 && notActive.text.contains("not tcp-active"), "\(notActive.text)")
        #expect(server.gb.receiver("rtp/udp")?.ssrc == 100_000_063, "a refused PUT changes nothing")
        #expect((try await put("rtp/none", #"{"check_paused": true}"#)).status == 404)
        #expect((try await put("rtp/05F5E161", #"{"port": 1}"#)).status == 400)
        #expect((try await put("rtp/05F5E161", #"{"device": "nohost"}"#)).status == 400)
        #expect((try await api.request("PUT", "/api/v1/gb28181/receivers/rtp/05F5E161")).status == 400)

        // The device answered the INVITE: it listens with the SSRC it chose.
        let device = try await GB28181Tests.h264G711Device(["--mode", "tcp-active", "--host", "127.0.0.1", "--port", "0", "--ssrc", "0100000062"])
        defer { device.terminate() }
        let address = try #require(await GB28181Tests.listeningAddress(device), "device never listened: \(device.stderr)")
        let dialed = try await put("rtp/05F5E161", #"{"device": "\#(address)", "check_paused": false}"#)
        #expect(dialed.status == 200 && dialed.value["ip"]?.string == "127.0.0.1", "\(dialed.text)")
        #expect(dialed.value["port"]?.int == Int(address.split(separator: ":").last ?? ""))
        #expect(dialed.value["check_paused"]?.bool == false)
        #expect(await server.waitPlayable("rtp/05F5E161"), "device: \(device.stderr)")
        let probe = try await FFprobe.run(server.flvURL("rtp/05F5E161"))
        #expect(probe.out.contains("codec_name=h264|width=640|height=360"), "\(probe.out) \(probe.err)")
        let got = try await api.get("/api/v1/gb28181/receivers/rtp/05F5E161")
        #expect(got.value["state"]?.string == "receiving" && got.value["remote_address"]?.string == address, "\(got.text)")
        await server.stop()
    }
}
