import Foundation
import NIOCore
import NIOPosix
import RelayCore
@testable import RelayGB28181
import RelayRTP
import Testing

/// GB28181 cascade senders (`/api/v1/gb28181/senders`): an RTMP stream re-muxed to RTP/PS and
/// sent over UDP, TCP passive and TCP active to receivers we did not write for the purpose —
/// ffmpeg reading the captured program stream, whose elementary streams must equal the source
/// clip's byte for byte — and to the relay's own GB28181 ingest as a second check.
@Suite(.serialized)
struct GB28181SenderTests {
    /// Short clips (4 s, 640x360 25 fps, a key frame a second) so a whole publish fits a test.
    actor Media {
        static let shared = Media()
        private let cache = MediaCache("gb-sender")

        func h264(audio: String) async throws -> String {
            let aac = audio == "aac"
            return try await cache.make("sender_h264_\(audio).flv", [
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=\(aac ? 44100 : 8000)",
                "-t", "4", "-map", "0:v", "-map", "1:a",
                "-c:v", "libx264", "-profile:v", "main", "-preset", "ultrafast", "-tune", "zerolatency",
                "-bf", "0", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "800k", "-pix_fmt", "yuv420p",
            ] + (aac ? ["-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "44100"] : ["-c:a", "pcm_alaw", "-ac", "1", "-ar", "8000"])
                + ["-f", "flv"])
        }
    }

    static func post(_ api: AdminHTTP, _ json: String) async throws -> AdminHTTP.Response {
        let r = try await api.post("/api/v1/gb28181/senders", json: json)
        try conforms("POST", "/api/v1/gb28181/senders", r)
        return r
    }

    /// The answer matches openapi.yaml — once openapi.yaml documents the sender endpoints
    /// (the text to merge is kept apart until then; AdminTests.openAPIDocumentsEveryRoute says
    /// whether it is in).
    static func conforms(_ method: String, _ path: String, _ r: AdminHTTP.Response,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let spec = try OpenAPISpec.load()
        guard spec.operations.contains("\(method) \(path)") else { return }
        AdminTests.conforms(spec, method, path, r, sourceLocation: sourceLocation)
    }

    /// Writes the capture's PS, has ffprobe name its streams, and compares its elementary
    /// streams with the source clip's (video: NAL units from the first key frame on; audio: raw
    /// frames or samples).
    static func expectSameStreams(_ ps: [UInt8], source: String, audio: String, name: String) async throws {
        let path = NSTemporaryDirectory() + "liverelay-\(name)-\(getpid()).ps"
        _ = FileManager.default.createFile(atPath: path, contents: Data(ps))
        let probe = try await CascadeCheck.probe(path)
        #expect(probe.contains("codec_name=h264|width=640|height=360"), "\(probe)")
        // ffmpeg 5.1 takes any 0xC0 stream for MPEG audio (it does not read the map's 0x90
        // G.711 A-law): there the test's own PES walk takes the audio out.
        #expect(audio != "aac" || probe.contains("codec_name=aac|sample_rate=44100|channels=2"), "\(probe)")

        let sent = CascadeCheck.slices(try await CascadeCheck.extract(path, isPS: true, map: "0:v:0", format: "h264"), hevc: false)
        let original = CascadeCheck.slices(try await CascadeCheck.extract(source, isPS: false, map: "0:v:0", format: "h264",
                                                                         bsf: "h264_mp4toannexb"), hevc: false)
        let video = CascadeCheck.run(sent, in: original)
        print("cascade \(name): video \(sent.count) NAL units (\(sent.reduce(0) { $0 + $1.count }) bytes) equal source units from #\(video.start ?? -1), covering \(Int(video.covered * 100)) % of \(original.count)")
        #expect(video.start != nil && video.covered >= 0.9,
                "video: \(sent.count) NAL units sent, \(original.count) in the source, run at \(String(describing: video.start)) covers \(video.covered)")
        if audio == "aac" {
            let sentAAC = CascadeCheck.adtsFrames(try await CascadeCheck.extract(path, isPS: true, map: "0:a:0", format: "adts"))
            let originalAAC = CascadeCheck.adtsFrames(try await CascadeCheck.extract(source, isPS: false, map: "0:a:0", format: "adts"))
            let run = CascadeCheck.run(sentAAC, in: originalAAC)
            print("cascade \(name): AAC \(sentAAC.count) frames equal source frames from #\(run.start ?? -1), covering \(Int(run.covered * 100)) % of \(originalAAC.count)")
            #expect(run.start != nil && run.covered >= 0.9, "AAC: \(sentAAC.count) frames sent, \(originalAAC.count) in the source, covers \(run.covered)")
        } else {
            let sentALaw = CascadeCheck.pesPayloads(ps, streamID: 0xC0)
            let originalALaw = try await CascadeCheck.extract(source, isPS: false, map: "0:a:0", format: "alaw")
            // Samples, compared in 40 ms blocks (a block of a 1 kHz tone repeats: compare the whole run).
            let block = 320
            let chunks = stride(from: 0, to: sentALaw.count - sentALaw.count % block, by: block).map { Array(sentALaw[$0..<($0 + block)]) }
            let source = stride(from: 0, to: originalALaw.count - originalALaw.count % block, by: block).map { Array(originalALaw[$0..<($0 + block)]) }
            let run = CascadeCheck.run(chunks, in: source)
            print("cascade \(name): G.711 \(chunks.count) blocks of 40 ms equal source blocks from #\(run.start ?? -1), covering \(Int(run.covered * 100)) % of \(source.count)")
            #expect(run.start != nil && run.covered >= 0.85, "G.711: \(sentALaw.count) bytes sent, \(originalALaw.count) in the source, covers \(run.covered)")
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    // MARK: the three modes

    /// The whole clip over UDP: ffmpeg reads the captured PS, its H.264 and AAC equal the
    /// clip's; the clip's end stops the sender, which says so in on_sender_stop.
    @Test func udpSenderForwardsAnRTMPStreamByteForByte() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_sender_stop": "\#(hooks.url)"}"#)
        let media = try await Media.shared.h264(audio: "aac")
        let peer = try await CascadePeer.udp()
        let publisher = try server.publish(media, stream: "live/up", loop: false)
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/up"))
        let api = AdminHTTP(port: server.adminPort)
        let r = try await Self.post(api, #"{"stream": "live/up", "ssrc": "0100000011", "dest": "\#(peer.dest)"}"#)
        #expect(r.status == 201, "\(r.text)")
        #expect(r.value["state"]?.string == "sending" && r.value["mode"]?.string == "udp" && r.value["ssrc"]?.string == "0100000011")
        let listed = try await api.get("/api/v1/gb28181/senders")
        try Self.conforms("GET", "/api/v1/gb28181/senders", listed)
        #expect(listed.value["count"]?.int == 1 && listed.value["senders"]?.items.first?["dest"]?.string == peer.dest)
        // The gauges /metrics shows once GBAdmin's `gauges` appends them.
        try await Task.sleep(nanoseconds: 500_000_000)
        let gauges = server.gb.senderGauges
        #expect(gauges.first { $0.name == "relay_gb28181_senders" && $0.labels.first?.1 == "sending" }?.value == 1)
        #expect((gauges.first { $0.name == "relay_gb28181_sender_bytes" }?.value ?? 0) > 10_000)

        let stops = await hooks.wait(for: "on_sender_stop", seconds: 20)
        let stop = try #require(stops.first, "no on_sender_stop: \(hooks.events)")
        #expect(stop["reason"] as? String == "stream ended" && stop["stream"] as? String == "live/up")
        #expect(stop["ssrc"] as? String == "0100000011" && stop["dest"] as? String == peer.dest && stop["mode"] as? String == "udp")
        try await Task.sleep(nanoseconds: 200_000_000)
        let packets = peer.packets
        #expect(stop["packets_sent"] as? Int == packets.count, "hook \(stop["packets_sent"] ?? "-") vs \(packets.count) received")
        #expect((try await api.get("/api/v1/gb28181/senders")).value["count"]?.int == 0)
        #expect((try await api.get("/api/v1/gb28181/senders/live/up")).status == 404)
        let after = server.gb.senderGauges
        #expect(after.filter { $0.name == "relay_gb28181_senders" }.allSatisfy { $0.value == 0 })
        #expect(after.first { $0.name == "relay_gb28181_sender_bytes" }?.value == Double(stop["bytes_sent"] as? Int ?? -1),
                "the byte total keeps what stopped senders sent")

        let ps = try CascadeCheck.rtp(packets, ssrc: 100_000_011, payloadType: 96)
        try await Self.expectSameStreams(ps, source: media, audio: "aac", name: "udp")
        await peer.close()
        await server.stop()
    }

    /// tcp-passive: the answer names the port; the platform connects and gets RFC 4571 frames
    /// of H.264 + G.711 A-law (payload type 8 asked for) that equal the clip's.
    @Test func tcpPassiveSenderWaitsForThePlatformH264AndG711() async throws {
        let server = try await TestServer.start(gb28181: ", \"port_min\": 47600, \"port_max\": 47649")
        let media = try await Media.shared.h264(audio: "alaw")
        let publisher = try server.publish(media, stream: "live/passive", loop: false)
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/passive"))
        let api = AdminHTTP(port: server.adminPort)
        let r = try await Self.post(api, #"{"stream": "live/passive", "ssrc": "0100000012", "mode": "tcp-passive", "payload_type": 8}"#)
        #expect(r.status == 201, "\(r.text)")
        let port = try #require(r.value["port"]?.int)
        #expect((47600...47649).contains(port) && r.value["state"]?.string == "listening" && r.value["ip"]?.string == "127.0.0.1")
        let peer = try await CascadePeer.connect(port: port)
        #expect(await peer.wait(seconds: 20) { $0.isClosed }, "the sender should close when the stream ends")
        #expect(peer.unframedTail == 0, "RFC 4571 framing cut short")
        let ps = try CascadeCheck.rtp(peer.packets, ssrc: 100_000_012, payloadType: 8)
        try await Self.expectSameStreams(ps, source: media, audio: "alaw", name: "passive")
        #expect((try await api.get("/api/v1/gb28181/senders")).value["count"]?.int == 0)
        await server.stop()
    }

    /// tcp-active: the sender dials the platform; DELETE stops it (gone from GET, the
    /// connection closed after whole frames, on_sender_stop with the operator's reason).
    @Test func tcpActiveSenderDialsThePlatformAndDeleteStopsIt() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_sender_stop": "\#(hooks.url)"}"#)
        let media = try await Media.shared.h264(audio: "aac")
        let publisher = try server.publish(media, stream: "live/active")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/active"))
        let platform = try await CascadePeer.listener()
        let api = AdminHTTP(port: server.adminPort)
        let r = try await Self.post(api, #"{"stream": "live/active", "ssrc": "0100000013", "dest": "\#(platform.dest)", "mode": "tcp-active"}"#)
        #expect(r.status == 201, "\(r.text)")
        #expect(await platform.wait(seconds: 10) { $0.packets.count >= 300 }, "packets: \(platform.packets.count)")
        let got = try await api.get("/api/v1/gb28181/senders/live/active")
        try Self.conforms("GET", "/api/v1/gb28181/senders/{stream}", got)
        #expect(got.value["senders"]?.items.first?["state"]?.string == "sending", "\(got.text)")
        let deleted = try await api.request("DELETE", "/api/v1/gb28181/senders/live/active", body: Array(#"{"ssrc": "0100000013"}"#.utf8))
        try Self.conforms("DELETE", "/api/v1/gb28181/senders/{stream}", deleted)
        #expect(deleted.status == 200 && deleted.value["count"]?.int == 1, "\(deleted.text)")
        #expect(deleted.value["senders"]?.items.first?["reason"]?.string == "stopped by the admin API")
        #expect((try await api.get("/api/v1/gb28181/senders")).value["count"]?.int == 0)
        #expect(await platform.wait(seconds: 5) { $0.isClosed })
        #expect(platform.unframedTail == 0)
        let stop = try #require(await hooks.wait(for: "on_sender_stop").first)
        #expect(stop["reason"] as? String == "stopped by the admin API" && stop["mode"] as? String == "tcp-active")
        let ps = try CascadeCheck.rtp(platform.packets, ssrc: 100_000_013, payloadType: 96)
        let path = NSTemporaryDirectory() + "liverelay-active-\(getpid()).ps"
        _ = FileManager.default.createFile(atPath: path, contents: Data(ps))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try await CascadeCheck.probe(path)
        #expect(probe.contains("codec_name=h264|width=640|height=360") && probe.contains("codec_name=aac"), "\(probe)")
        await server.stop()
    }

    /// The second check: the relay's own GB28181 ingest receives the cascade and plays it over
    /// RTMP and HTTP-FLV.
    @Test func ourOwnGBIngestReceivesTheCascade() async throws {
        let server = try await TestServer.start()
        let media = try await Media.shared.h264(audio: "aac")
        let publisher = try server.publish(media, stream: "live/src")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/src"))
        let api = AdminHTTP(port: server.adminPort)
        let receiver = try await api.post("/api/v1/gb28181/receivers", json: #"{"stream": "gb/cascade", "ssrc": "0100000077"}"#)
        let port = try #require(receiver.value["port"]?.int, "\(receiver.text)")
        let r = try await Self.post(api, #"{"stream": "live/src", "ssrc": "0100000077", "dest": "127.0.0.1:\#(port)"}"#)
        #expect(r.status == 201, "\(r.text)")
        #expect(await server.waitPlayable("gb/cascade"), "the cascade never became a stream")
        for url in [server.rtmpURL("gb/cascade"), server.flvURL("gb/cascade")] {
            let probe = try await FFprobe.run(url)
            #expect(probe.out.contains("codec_name=h264|width=640|height=360"), "\(url): \(probe.out) \(probe.err)")
            #expect(probe.out.contains("codec_name=aac|sample_rate=44100|channels=2"), "\(url): \(probe.out)")
        }
        let info = try #require(server.gb.receiver("gb/cascade")?.info)
        #expect(info.lost == 0 && info.packets > 100, "\(info)")
        await server.stop()
    }

    /// Any live stream, not only RTMP: H.265 + AAC from a GB28181 device (gb-send) forwarded
    /// again; ffmpeg reads H.265 from the captured PS, its slices a run of the device's file.
    @Test func aGBStreamIsForwardedAgainH265AndAAC() async throws {
        let server = try await TestServer.start(gb28181: ", \"port_min\": 47650, \"port_max\": 47699")
        let r = try await server.gb.open(streamID: "gb/h265in", ssrc: nil, mode: .udp, port: .fromRange)
        let media = try await GBMedia.shared.files(.h265, audio: .aac)
        let device = try GB28181Tests.send(media, ["--mode", "udp", "--port", "\(try #require(r.info.port))", "--ssrc", "0100000017"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/h265in"), "device: \(device.stderr)")
        let peer = try await CascadePeer.udp()
        let api = AdminHTTP(port: server.adminPort)
        let posted = try await Self.post(api, #"{"stream": "gb/h265in", "ssrc": "0100000018", "dest": "\#(peer.dest)"}"#)
        #expect(posted.status == 201, "\(posted.text)")
        #expect(await peer.wait(seconds: 10) { $0.packets.count >= 600 })
        let deleted = try await api.delete("/api/v1/gb28181/senders/gb/h265in")
        #expect(deleted.status == 200)
        try await Task.sleep(nanoseconds: 200_000_000)
        let ps = try CascadeCheck.rtp(peer.packets, ssrc: 100_000_018, payloadType: 96)
        let path = NSTemporaryDirectory() + "liverelay-h265-\(getpid()).ps"
        _ = FileManager.default.createFile(atPath: path, contents: Data(ps))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try await CascadeCheck.probe(path)
        #expect(probe.contains("codec_name=hevc|width=640|height=360") && probe.contains("codec_name=aac|sample_rate=44100|channels=2"),
                "\(probe)")
        let sent = CascadeCheck.slices(try await CascadeCheck.extract(path, isPS: true, map: "0:v:0", format: "hevc"), hevc: true)
        let original = CascadeCheck.slices(Array(FileManager.default.contents(atPath: media.video) ?? Data()), hevc: true)
        let run = CascadeCheck.run(sent, in: original, looped: true)
        print("cascade h265: video \(sent.count) NAL units equal the device file's from #\(run.start ?? -1) (file looped), \(original.count) in the file")
        #expect(run.start != nil && sent.count >= 50, "H.265: \(sent.count) NAL units sent, \(original.count) in the file, run at \(String(describing: run.start))")
        await peer.close()
        await server.stop()
    }

    /// A platform that stops reading: the sender's queue is bounded like a player's, and it
    /// stops with the reason instead of buffering without end.
    @Test func aPlatformThatDoesNotReadStopsTheSender() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_sender_stop": "\#(hooks.url)"}, "player": {"max_pending_bytes": 65536, "write_timeout_ms": 300, "send_buffer_bytes": 16384}"#,
                                                gb28181: ", \"port_min\": 47700, \"port_max\": 47749")
        let media = try await Media.shared.h264(audio: "aac")
        let publisher = try server.publish(media, stream: "live/slow")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/slow"))
        let api = AdminHTTP(port: server.adminPort)
        let r = try await Self.post(api, #"{"stream": "live/slow", "ssrc": "0100000019", "mode": "tcp-passive"}"#)
        let port = try #require(r.value["port"]?.int, "\(r.text)")
        let stalled = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .channelOption(.autoRead, value: false)
            .connect(host: "127.0.0.1", port: port).get()
        defer { stalled.close(promise: nil) }
        let stop = try #require(await hooks.wait(for: "on_sender_stop", seconds: 15).first, "the sender kept a stalled peer")
        #expect((stop["reason"] as? String)?.hasPrefix("slow peer: ") == true, "\(stop)")
        #expect((try await api.get("/api/v1/gb28181/senders")).value["count"]?.int == 0)
        #expect(await server.waitPlayable("live/slow"), "the stream itself goes on")
        await server.stop()
    }

    /// tcp-passive with a `dest`: only that host may connect (127.0.0.9 on loopback); others are
    /// closed at once and the port keeps waiting.
    @Test func tcpPassiveWithADestAcceptsOnlyThatHost() async throws {
        let server = try await TestServer.start(gb28181: ", \"port_min\": 47750, \"port_max\": 47799")
        let media = try await Media.shared.h264(audio: "aac")
        let publisher = try server.publish(media, stream: "live/pinned")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/pinned"))
        let api = AdminHTTP(port: server.adminPort)
        let r = try await Self.post(api, #"{"stream": "live/pinned", "ssrc": "0100000020", "mode": "tcp-passive", "dest": "127.0.0.9:5060"}"#)
        let port = try #require(r.value["port"]?.int, "\(r.text)")
        let stranger = try await CascadePeer.connect(port: port)
        #expect(await stranger.wait(seconds: 3) { $0.isClosed }, "a connection from 127.0.0.1 should be refused")
        #expect(stranger.packets.isEmpty)
        #expect(await server.log.eventually("only 127.0.0.9 may connect"))
        let platform = try await CascadePeer.connect(port: port, from: "127.0.0.9")
        #expect(await platform.wait(seconds: 5) { $0.packets.count >= 100 }, "packets: \(platform.packets.count)")
        let listed = try await api.get("/api/v1/gb28181/senders/live/pinned")
        #expect(listed.value["senders"]?.items.first?["peer"]?.string?.hasPrefix("127.0.0.9:") == true, "\(listed.text)")
        await platform.close()
        await server.stop()
    }

    // MARK: refusals and failures

    @Test func badRequestsAreRefusedWithReasons() async throws {
        let hooks = try await HookServer.start()
        defer { hooks.stop() }
        let server = try await TestServer.start(#""hooks": {"on_sender_stop": "\#(hooks.url)"}"#)
        let media = try await Media.shared.h264(audio: "aac")
        let publisher = try server.publish(media, stream: "live/bad")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/bad"))
        let api = AdminHTTP(port: server.adminPort)

        let empty = try await api.post("/api/v1/gb28181/senders", json: nil)
        #expect(empty.status == 400 && empty.text.contains("JSON body is required"))
        let badSSRC = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "x1", "dest": "127.0.0.1:9"}"#)
        #expect(badSSRC.status == 400 && badSSRC.text.contains("invalid SSRC"), "\(badSSRC.text)")
        let badDest = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "1", "dest": "127.0.0.1"}"#)
        #expect(badDest.status == 400 && badDest.text.contains("host:port"))
        let badPT = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "1", "dest": "127.0.0.1:9", "payload_type": 200}"#)
        #expect(badPT.status == 400 && badPT.text.contains("payload_type"))
        let unresolvable = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "1", "dest": "no-such-host.invalid:9"}"#)
        #expect(unresolvable.status == 400 && unresolvable.text.contains("cannot resolve"), "\(unresolvable.text)")
        let notLive = try await Self.post(api, #"{"stream": "live/none", "ssrc": "1", "dest": "127.0.0.1:9"}"#)
        #expect(notLive.status == 404 && notLive.text.contains("not live"))

        let peer = try await CascadePeer.udp()
        let first = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "0100000014", "dest": "\#(peer.dest)"}"#)
        #expect(first.status == 201)
        let again = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "0100000014", "dest": "\#(peer.dest)"}"#)
        #expect(again.status == 409 && again.text.contains("exists already"), "\(again.text)")
        #expect((try await api.delete("/api/v1/gb28181/senders/live/other")).status == 404)
        // The query picks senders too: no sender of live/bad has SSRC 0100000099; a bad key is refused.
        let second = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "0100000017", "dest": "\#(peer.dest)"}"#)
        #expect(second.status == 201)
        #expect((try await api.delete("/api/v1/gb28181/senders/live/bad?ssrc=0100000099")).status == 404)
        #expect((try await api.delete("/api/v1/gb28181/senders/live/bad?port=1")).status == 400)
        let picked = try await api.delete("/api/v1/gb28181/senders/live/bad?ssrc=0100000017&dest=\(peer.dest)")
        #expect(picked.status == 200 && picked.value["count"]?.int == 1, "\(picked.text)")
        #expect(picked.value["senders"]?.items.first?["ssrc"]?.string == "0100000017")

        // Nobody listens: tcp-active gives up after its timeout; nobody connects: tcp-passive too.
        let closed = try await CascadePeer.listener()
        let deadPort = closed.port
        await closed.close()
        let active = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "0100000015", "dest": "127.0.0.1:\#(deadPort)", "mode": "tcp-active", "connect_timeout_ms": 700}"#)
        #expect(active.status == 201 && active.value["state"]?.string == "connecting", "\(active.text)")
        let passive = try await Self.post(api, #"{"stream": "live/bad", "ssrc": "0100000016", "mode": "tcp-passive", "connect_timeout_ms": 500}"#)
        #expect(passive.status == 201 && passive.value["state"]?.string == "listening", "\(passive.text)")
        let stops = await hooks.wait(for: "on_sender_stop", count: 3)  // with 0100000017's
        let reasons = stops.compactMap { $0["reason"] as? String }
        #expect(reasons.contains { $0.hasPrefix("cannot connect to 127.0.0.1:\(deadPort) within 700 ms") }, "\(reasons)")
        #expect(reasons.contains("the upper platform did not connect within 500 ms"), "\(reasons)")
        let left = try await api.get("/api/v1/gb28181/senders")
        #expect(left.value["count"]?.int == 1 && left.value["senders"]?.items.first?["ssrc"]?.string == "0100000014")

        // The stream goes: the sender left goes with it.
        publisher.terminate()
        let ended = await hooks.wait(for: "on_sender_stop", count: 4)
        #expect(ended.contains { $0["ssrc"] as? String == "0100000014" && $0["reason"] as? String == "stream ended" }, "\(ended)")
        await peer.close()
        await server.stop()
    }
}
