import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayFLV
import RelayGB28181
import RelayRTP
import RelayTestSupport
import Testing

/// GB28181 in from the real `relay-bench gb-send` (a device in each of the three modes), out
/// to ffprobe / ffmpeg over RTMP, HTTP-FLV and RTSP.
@Suite(.serialized)
struct GB28181Tests {
    static let group = MultiThreadedEventLoopGroup.singleton

    // MARK: the three modes

    @Test func udpOnTheSharedPortH264AndG711A() async throws {
        let server = try await TestServer.start()
        let port = try #require(server.gb.sharedUDPPort)
        _ = try await server.gb.open(streamID: "gb/udp", ssrc: try GBSSRC.parse("0100000001"), mode: .udp)
        let device = try await Self.h264G711Device(["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000001"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/udp"), "device: \(device.stderr)")
        try await Self.expectSeenAndDecoded(server, "gb/udp")
        let info = try #require(server.gb.list().first)
        #expect(info.state == .receiving && info.packets > 100 && info.lost == 0)
        await server.stop()
    }

    @Test func tcpPassiveOnAPortOfItsOwnH264AndG711A() async throws {
        let server = try await TestServer.start(gb28181: ", \"port_min\": 47300, \"port_max\": 47399")
        let r = try await server.gb.open(streamID: "gb/passive", ssrc: try GBSSRC.parse("0100000002"), mode: .tcpPassive,
                                         port: .fromRange)
        let port = try #require(r.info.port)
        #expect((47300...47399).contains(port))
        // The device connects long after the port was opened: the port waits.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(server.gb.list().first?.state == .waiting)
        let device = try await Self.h264G711Device(["--mode", "tcp-passive", "--port", "\(port)", "--ssrc", "0100000002"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/passive"), "device: \(device.stderr)")
        try await Self.expectSeenAndDecoded(server, "gb/passive")
        await server.stop()
    }

    @Test func tcpActiveTheServerDialsTheDeviceH264AndG711A() async throws {
        let server = try await TestServer.start()
        let device = try await Self.h264G711Device(["--mode", "tcp-active", "--host", "127.0.0.1", "--port", "0", "--ssrc", "0100000003"])
        defer { device.terminate() }
        let address = try #require(await Self.listeningAddress(device), "device never listened: \(device.stderr)")
        _ = try await server.gb.open(streamID: "gb/active", ssrc: try GBSSRC.parse("0100000003"), mode: .tcpActive,
                                     deviceAddress: address)
        #expect(await server.waitPlayable("gb/active"), "device: \(device.stderr)")
        #expect(await server.log.eventually("connected to device \(address)"))
        try await Self.expectSeenAndDecoded(server, "gb/active")
        await server.stop()
    }

    @Test func h265AndAACOverUDPOnAPortOfItsOwn() async throws {
        let server = try await TestServer.start(gb28181: ", \"port_min\": 47400, \"port_max\": 47499")
        let r = try await server.gb.open(streamID: "gb/h265", ssrc: nil, mode: .udp, port: .fromRange)
        let port = try #require(r.info.port)
        let media = try await GBMedia.shared.files(.h265, audio: .aac)
        let device = try Self.send(media, ["--mode", "udp", "--port", "\(port)", "--ssrc", "1100000004"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/h265"), "device: \(device.stderr)")
        try await Self.expectSeenAndDecoded(server, "gb/h265", video: "codec_name=hevc|width=640|height=360",
                                            audio: "codec_name=aac|sample_rate=44100|channels=2", hevcInFLV: true)
        await server.stop()
    }

    // MARK: impairments

    /// Half the UDP packets reordered within 8 places and 1 % lost: the reorder buffer restores
    /// order, and with `loss_policy` `next_key_frame` a loss drops video until the next key
    /// frame, so what is played decodes cleanly (the default, `next_frame`, lets decoders
    /// conceal: GB28181LossTests).
    @Test func reorderedAndLossyUDPStillDecodesWithoutErrors() async throws {
        let server = try await TestServer.start(gb28181: #", "loss_policy": "next_key_frame""#)
        let port = try #require(server.gb.sharedUDPPort)
        _ = try await server.gb.open(streamID: "gb/lossy", ssrc: 100_000_005, mode: .udp)
        let device = try await Self.h264G711Device(["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000005",
                                           "--reorder", "50", "--reorder-window", "8", "--loss", "1", "--seed", "7"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/lossy"), "device: \(device.stderr)")
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/lossy.flv", group: Self.group)
        let decode = try await ChildProcess.run("ffmpeg", ["-v", "error", "-i", server.flvURL("gb/lossy"), "-t", "5", "-f", "null", "-"],
                                                timeout: 40)
        expectCleanDecode(decode.status, decode.err, "gb/lossy over HTTP-FLV")
        let stats = player.stats
        await player.close()
        #expect(stats.error == nil && stats.firstVideoIsKey == true, "player: \(stats)")
        #expect(stats.videoFrames >= 25, "frames played: \(stats.videoFrames)")
        let info = try #require(server.gb.list().first)
        #expect(info.lost > 0, "the device dropped packets; the receiver should have seen gaps")
        await server.stop()
    }

    // MARK: bad input

    /// Random datagrams on the shared UDP port, a 65535-byte frame of garbage on the shared TCP
    /// port, and a PS with an impossible PES length: the bad source is dropped with a log line,
    /// the good stream keeps playing.
    @Test func badInputDropsOnlyTheBadSource() async throws {
        let server = try await TestServer.start()
        let udpPort = try #require(server.gb.sharedUDPPort)
        let tcpPort = try #require(server.gb.sharedTCPPort)
        _ = try await server.gb.open(streamID: "gb/victim", ssrc: 100_000_006, mode: .udp)
        _ = try await server.gb.open(streamID: "gb/broken", ssrc: 100_000_007, mode: .udp)
        let device = try await Self.h264G711Device(["--mode", "udp", "--port", "\(udpPort)", "--ssrc", "0100000006"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/victim"), "device: \(device.stderr)")
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/victim.flv", group: Self.group)
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        let before = player.stats.videoFrames

        // 1. Random datagrams: some look like RTP (version 2) with random SSRCs, some do not.
        let udp = try await DatagramBootstrap(group: Self.group).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: udpPort)
        for i in 0..<200 {
            var bytes = (0..<Int.random(in: 1...1400)).map { _ in UInt8.random(in: 0...255) }
            if i % 2 == 0 && bytes.count > 12 { bytes[0] = 0x80 }
            try await udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes)))
        }
        // 2. A stream that turns bad: valid packs, then a PES whose length cannot hold its header.
        let muxer = PSMuxer(video: .h264, audio: nil)
        var rtp = RTPPacketizer(ssrc: 100_000_007)
        var valid = ByteBuffer()
        PSMuxer.writePackHeader(scr: 0, into: &valid)
        muxer.writeMap(into: &valid)
        for p in rtp.packetize(valid, timestamp: 0) {
            try await udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: p))
        }
        #expect(await Self.wait { server.server.context.registry.source("gb/broken") != nil })
        var bad = ByteBuffer()
        PSMuxer.writePackHeader(scr: 3600, into: &bad)
        bad.writeBytes([0x00, 0x00, 0x01, 0xE0, 0x00, 0x02, 0x80, 0x80, 0x05, 0x21, 0x00, 0x01, 0x00, 0x01])
        for p in rtp.packetize(bad, timestamp: 3600) {
            try await udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: p))
        }
        // On UDP a malformed frame is dropped and counted; the stream and its receiver stay.
        #expect(await Self.wait { (server.gb.receiver("gb/broken")?.info.malformedPackets ?? 0) == 1 })
        #expect(await server.log.eventually("impossible PES length 2"))
        #expect(server.server.context.registry.source("gb/broken") != nil)
        try await udp.close()
        #expect(await server.log.eventually("unknown SSRC"))
        #expect(await server.log.eventually("dropping a UDP datagram"))

        // 3. 65535 bytes of garbage in one RFC 4571 frame on the shared TCP port.
        let tcp = try await RawConnection.connect(port: tcpPort)
        try await tcp.send([0xFF, 0xFF, 0x00] + (0..<65534).map { _ in UInt8.random(in: 0...255) })
        #expect(await tcp.waitClosed(seconds: 3), "garbage TCP peer left connected")
        #expect(await server.log.eventually("not an RTP packet"))

        // The victim played on throughout.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let after = player.stats
        #expect(after.error == nil && !after.closed)
        #expect(after.videoFrames >= before + 25, "victim frames \(before) → \(after.videoFrames)")
        await player.close()
        await server.stop()
    }

    // MARK: measurement (opt-in)

    /// `LIVERELAY_GB_MEASURE=udp|tcp-passive [LIVERELAY_GB_SECONDS=60]`: frames a device sends
    /// against frames an HTTP-FLV player receives, printed as one line.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LIVERELAY_GB_MEASURE"] != nil))
    func framesInVersusFramesOut() async throws {
        let env = ProcessInfo.processInfo.environment
        let mode = env["LIVERELAY_GB_MEASURE"] ?? "udp"
        let seconds = Double(env["LIVERELAY_GB_SECONDS"] ?? "60") ?? 60
        let impair = (env["LIVERELAY_GB_IMPAIR"] ?? "").split(separator: " ").map(String.init)
        let server = try await TestServer.start("\"source\": {\"play_wait_ms\": 20000}")
        let port = try #require(mode == "udp" ? server.gb.sharedUDPPort : server.gb.sharedTCPPort)
        let receiver = try await server.gb.open(streamID: "gb/measure", ssrc: 100_000_009, mode: mode == "udp" ? .udp : .tcpPassive)
        // The player waits for the stream, so it sees every frame from the first key frame.
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/measure.flv", group: Self.group)
        let device = try await Self.h264G711Device(["--mode", mode, "--port", "\(port)", "--ssrc", "0100000009",
                                           "--duration", "\(seconds)"] + impair)
        defer { device.terminate() }
        let status = await device.wait(seconds: seconds + 30)
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let stats = player.stats
        await player.close()
        let info = receiver.info  // a tcp-passive receiver from the API closes when the device hangs up
        let sent = device.stdout.split(separator: "\n").last.map(String.init) ?? ""
        print("GB28181 \(mode) \(seconds) s: device \(sent); player video_frames=\(stats.videoFrames) audio_frames=\(stats.audioFrames) "
              + "max_gap_ms=\(stats.maxVideoGap.nanoseconds / 1_000_000) first_key=\(stats.firstVideoIsKey ?? false); "
              + "receiver packets=\(info.packets) lost=\(info.lost)")
        #expect(status == 0)
        #expect(stats.videoFrames > 0)
        await server.stop()
    }

    // MARK: helpers

    /// `gb-send` with the H.264 + G.711 A-law media most tests use.
    static func h264G711Device(_ args: [String]) async throws -> ChildProcess {
        try send(try await GBMedia.shared.files(.h264, audio: .g711a), args)
    }

    static func send(_ media: (video: String, audio: String?), _ args: [String]) throws -> ChildProcess {
        var all = ["gb-send", "--video", media.video, "--loop"]
        if let audio = media.audio { all += ["--audio", audio] }
        return try ProductBinary.bench.start(all + args)
    }

    /// The "listening on HOST:PORT" line a tcp-active device prints.
    static func listeningAddress(_ device: ChildProcess) async -> String? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let line = device.stdoutLines.first(where: { $0.hasPrefix("listening on ") }) {
                return String(line.dropFirst("listening on ".count))
            }
            if !device.isRunning { return nil }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return nil
    }

    static func wait(_ seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
        await eventually(seconds, condition)
    }

    /// ffprobe over RTMP, HTTP-FLV and RTSP sees both tracks; 5 s decodes over HTTP-FLV and
    /// RTSP print nothing. `hevcInFLV`: the machine's ffmpeg (5.1) cannot read H.265 in FLV, so
    /// RTMP and HTTP-FLV are checked by our own players (codec and size from the sequence
    /// header, key frame first, every tag parsed) and only RTSP by ffprobe/ffmpeg.
    static func expectSeenAndDecoded(_ server: TestServer, _ stream: String,
                                     video: String = "codec_name=h264|width=640|height=360",
                                     audio: String = "codec_name=pcm_alaw|sample_rate=8000|channels=1",
                                     hevcInFLV: Bool = false) async throws {
        if hevcInFLV {
            let probe = try await FLVProbe.connect(port: server.httpPort, path: "/\(stream).flv")
            let flv = await probe.wait(seconds: 3) { $0.videoFrames >= 25 && $0.audioFrames > 0 }
            await probe.close()
            #expect(flv.error == nil && flv.codec == .h265 && flv.width == 640 && flv.height == 360, "HTTP-FLV: \(flv)")
            #expect(flv.firstVideoIsKey == true && flv.videoFrames >= 25 && flv.audioFrames > 0, "HTTP-FLV: \(flv)")
            let rtmp = try await RTMPPlayer.connect(url: server.rtmpURL(stream), group: group)
            let stats = await rtmp.wait(timeout: .seconds(5)) { $0.videoFrames >= 25 && $0.audioFrames > 0 }
            await rtmp.close()
            #expect(stats.error == nil && stats.firstVideoIsKey == true && stats.videoFrames >= 25, "RTMP: \(stats)")
        }
        let urls = hevcInFLV ? [(server.rtspURL(stream), true)]
            : [(server.rtmpURL(stream), false), (server.flvURL(stream), false), (server.rtspURL(stream), true)]
        for (url, rtsp) in urls {
            let r = try await FFprobe.run(url, rtspTransport: rtsp ? "tcp" : nil)
            #expect(r.status == 0, "ffprobe \(url): \(r.err)")
            #expect(r.out.contains(video), "\(url): \(r.out)")
            #expect(r.out.contains(audio), "\(url): \(r.out)")
        }
        async let flv = hevcInFLV ? nil : ChildProcess.run("ffmpeg", ["-v", "error", "-i", server.flvURL(stream), "-t", "5", "-f", "null", "-"],
                                                           timeout: 40)
        async let rtsp = ChildProcess.run("ffmpeg", ["-v", "error", "-rtsp_transport", "tcp", "-i", server.rtspURL(stream),
                                                     "-t", "5", "-f", "null", "-"], timeout: 40)
        var decodes = [("RTSP", try await rtsp)]
        if let flv = try await flv { decodes.append(("HTTP-FLV", flv)) }
        for (name, r) in decodes {
            expectCleanDecode(r.status, r.err, name)
        }
    }
}

/// Annex-B video and raw audio as a camera's encoder hands them out (640x360 25 fps, key frame
/// every second, parameter sets before each), made with ffmpeg once per test run.
actor GBMedia {
    static let shared = GBMedia()
    enum Audio { case g711a, aac }
    private let cache = MediaCache("gb-media")

    func files(_ video: AnnexBVideo, audio: Audio?) async throws -> (video: String, audio: String?) {
        let v = try await cache.annexB(video, stem: "gb_360p", size: "640x360", seconds: video == .h264 ? 6 : 4, bitrate: "800k")
        var a: String?
        switch audio {
        case .g711a?:
            a = try await cache.alaw("gb_8k.alaw", seconds: 6)
        case .aac?:
            a = try await cache.adtsAAC("gb_44k.aac", seconds: 4, bitrate: "96k")
        case nil:
            a = nil
        }
        return (v, a)
    }
}
