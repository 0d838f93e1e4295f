import Foundation
import NIOCore
import NIOPosix
import RelayCore
import RelayGB28181
import RelayTestSupport
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
        #expect(notActive.status == 409 && notActive.text.contains("not tcp-active"), "\(notActive.text)")
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

    /// The on_publish answer renames the stream (`stream_replace`, as wvp names a device's
    /// channel): the receiver answers to both names (GET, PUT, DELETE), and when the renamed
    /// stream ends the receiver closes and its port is free.
    @Test func aRenamedStreamsReceiverAnswersToBothNames() async throws {
        let hook = try await RenamingHook.start()
        defer { hook.process.terminate() }
        let server = try await TestServer.start(#""hooks": {"on_publish": "\#(hook.url)"}"#,
                                                gb28181: #", "port_min": 47900, "port_max": 47949"#)
        let api = AdminHTTP(port: server.adminPort)
        var ports: [Int] = []
        var devices: [ChildProcess] = []
        defer { for d in devices { d.terminate() } }
        for (id, ssrc) in [("rtp/05F5E1A1", "0100000161"), ("rtp/05F5E1A2", "0100000162")] {
            let opened = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "\#(id)", "ssrc": "\#(ssrc)", "port": "auto"}"#)
            let port = try #require(opened.value["port"]?.int, "\(opened.text)")
            ports.append(port)
            devices.append(try await GB28181Tests.h264G711Device(["--mode", "udp", "--port", "\(port)", "--ssrc", ssrc]))
        }
        for alias in ["rtp/dev_05F5E1A1", "rtp/dev_05F5E1A2"] {
            #expect(await server.waitPlayable(alias), "\(alias) never played: \(server.log.lines.suffix(5))")
        }
        #expect(server.server.context.registry.source("rtp/05F5E1A1") == nil, "published under the new name only")
        let got = try await api.get("/api/v1/gb28181/receivers/rtp/dev_05F5E1A1")
        #expect(got.status == 200 && got.value["stream"]?.string == "rtp/05F5E1A1"
                && got.value["published_as"]?.string == "rtp/dev_05F5E1A1", "\(got.text)")
        let put = try await api.request("PUT", "/api/v1/gb28181/receivers/rtp/dev_05F5E1A1", body: Array(#"{"check_paused": true}"#.utf8))
        #expect(put.status == 200 && put.value["check_paused"]?.bool == true, "\(put.text)")
        #expect(server.gb.receiver(named: "rtp/dev_05F5E1A1") === server.gb.receiver("rtp/05F5E1A1"))
        let info = try #require(server.gb.list().first { $0.streamID == "rtp/05F5E1A1" })
        #expect(info.publishedAs == "rtp/dev_05F5E1A1" && info.checkPaused && info.state == .receiving)

        // DELETE by the new name closes the receiver and its stream, and frees the port.
        let deleted = try await api.delete("/api/v1/gb28181/receivers/rtp/dev_05F5E1A1")
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(server.gb.receiver("rtp/05F5E1A1") == nil)
        #expect(await GB28181Tests.wait { server.server.context.registry.source("rtp/dev_05F5E1A1") == nil })
        devices[0].terminate()
        let freed = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: ports[0]).get()
        try await freed.close()

        // The renamed stream ends (as close_streams does): its receiver closes, the port is free.
        devices[1].terminate()
        await server.server.context.registry.source("rtp/dev_05F5E1A2")?.close(reason: "test: closed by the platform")
        #expect(await GB28181Tests.wait { server.gb.receiver(named: "rtp/dev_05F5E1A2") == nil && server.gb.list().isEmpty })
        let freed2 = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: ports[1]).get()
        try await freed2.close()
        await server.stop()
    }
}

/// A hook server that allows every on_publish and renames `app/stream` to `app/dev_stream`
/// (`stream_replace`), as a GB28181 platform names SSRC-keyed receivers after the device.
struct RenamingHook {
    let process: ChildProcess
    let port: Int
    var url: String { "http://127.0.0.1:\(port)/hooks" }

    static let script = #"""
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            app, _, name = body.get("stream", "").rpartition("/")
            answer = json.dumps({"stream_replace": app + "/dev_" + name}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

    static func start() async throws -> RenamingHook {
        let p = try ChildProcess("python3", ["-u", "-c", script])
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, p.isRunning {
            if let line = p.stdoutLines.first, let port = Int(line) { return RenamingHook(process: p, port: port) }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        p.terminate()
        throw HookServer.StartError(description: "renaming hook server did not start: \(p.stderr)")
    }
}
