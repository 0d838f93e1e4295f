import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayGB28181
import RelayRTP
import Testing

/// Device quirks seen in the field, from the outside: a real server, devices on raw sockets (or
/// the real `relay-bench gb-send`) and players on the stream.
@Suite(.serialized)
struct GB28181QuirksTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    // MARK: RTP over TCP without the RFC 4571 length prefix

    /// A device that writes bare RTP packets back to back on its TCP connection (no length
    /// prefix), in both TCP modes: the stream plays and decodes.
    @Test func tcpWithoutLengthPrefixesPlays() async throws {
        let server = try await TestServer.start()
        let port = try #require(server.gb.sharedTCPPort)
        _ = try await server.gb.open(streamID: "gb/bare", ssrc: try GBSSRC.parse("0100000081"), mode: .tcpPassive)
        let passive = try await GB28181Tests.h264G711Device(["--mode", "tcp-passive", "--port", "\(port)", "--ssrc", "0100000081",
                                                             "--tcp-framing", "none"])
        defer { passive.terminate() }
        #expect(await server.waitPlayable("gb/bare"), "device: \(passive.stderr)")
        #expect(await server.log.eventually("without RFC 4571 length prefixes"))
        try await GB28181Tests.expectSeenAndDecoded(server, "gb/bare")

        let active = try await GB28181Tests.h264G711Device(["--mode", "tcp-active", "--host", "127.0.0.1", "--port", "0",
                                                            "--ssrc", "0100000082", "--tcp-framing", "none"])
        defer { active.terminate() }
        let address = try #require(await GB28181Tests.listeningAddress(active), "device never listened: \(active.stderr)")
        _ = try await server.gb.open(streamID: "gb/bare-active", ssrc: try GBSSRC.parse("0100000082"), mode: .tcpActive,
                                     deviceAddress: address)
        #expect(await server.waitPlayable("gb/bare-active"), "device: \(active.stderr)")
        let player = try await RTMPPlayer.connect(url: server.rtmpURL("gb/bare-active"), group: Self.group)
        let stats = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= 50 && $0.audioFrames > 0 }
        await player.close()
        #expect(stats.error == nil && stats.firstVideoIsKey == true && stats.videoFrames >= 50, "RTMP: \(stats)")
        #expect(await server.log.count("without RFC 4571 length prefixes", reaching: 2) == 2)
        await server.stop()
    }

    // MARK: H.265 parameter sets only at the first key frame

    /// An H.265 camera that sends VPS/SPS/PPS once, before its first IDR, and bare IDRs after:
    /// players that join later get the parameter sets from the relay and decode (ffprobe and
    /// ffmpeg over RTSP, our own FLV players over HTTP-FLV and RTMP).
    @Test func h265WithParameterSetsOnlyAtTheFirstKeyFrame() async throws {
        let media = try await GBMedia.shared.files(.h265, audio: .aac)
        let original = [UInt8](try #require(FileManager.default.contents(atPath: media.video)))
        let stripped = Self.parameterSetsOnlyOnce(original)
        let video = NSTemporaryDirectory() + "liverelay-h265-once-\(getpid()).h265"
        try Data(stripped).write(to: URL(fileURLWithPath: video))
        defer { try? FileManager.default.removeItem(atPath: video) }
        let types = Self.nalTypes(stripped)
        #expect(types.filter { (32...34).contains($0) }.count == 3, "VPS/SPS/PPS once")
        #expect(types.filter { (16...23).contains($0) }.count >= 4, "IRAP frames: \(Set(types))")
        #expect(Self.nalTypes(original).filter { $0 == 32 }.count >= 4, "the original repeats them")

        let server = try await TestServer.start()
        let port = try #require(server.gb.sharedUDPPort)
        _ = try await server.gb.open(streamID: "gb/h265-once", ssrc: try GBSSRC.parse("1100000089"), mode: .udp)
        let device = try GB28181Tests.send((video, media.audio), ["--mode", "udp", "--port", "\(port)", "--ssrc", "1100000089"])
        defer { device.terminate() }
        #expect(await server.waitPlayable("gb/h265-once"), "device: \(device.stderr)")
        try await Task.sleep(nanoseconds: 1_500_000_000)  // players join after the first key frame
        try await GB28181Tests.expectSeenAndDecoded(server, "gb/h265-once", video: "codec_name=hevc|width=640|height=360",
                                                    audio: "codec_name=aac|sample_rate=44100|channels=2", hevcInFLV: true)
        await server.stop()
    }

    /// Offsets of the start codes (3- or 4-byte) in Annex-B `bytes`, with the NAL header after each.
    static func nalStarts(_ bytes: [UInt8]) -> [(start: Int, header: Int)] {
        var out: [(Int, Int)] = []
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == 0, bytes[i + 1] == 0, bytes[i + 2] == 1 {
                out.append((i > 0 && bytes[i - 1] == 0 ? i - 1 : i, i + 3))
                i += 3
            } else {
                i += 1
            }
        }
        return out
    }

    static func nalTypes(_ bytes: [UInt8]) -> [Int] {
        nalStarts(bytes).map { Int(bytes[$0.header] >> 1 & 0x3F) }
    }

    /// `bytes` without the VPS/SPS/PPS that follow the first slice.
    static func parameterSetsOnlyOnce(_ bytes: [UInt8]) -> [UInt8] {
        let starts = nalStarts(bytes)
        var out: [UInt8] = []
        var sliceSeen = false
        for (k, nal) in starts.enumerated() {
            let end = k + 1 < starts.count ? starts[k + 1].start : bytes.count
            let type = Int(bytes[nal.header] >> 1 & 0x3F)
            if (32...34).contains(type) && sliceSeen { continue }
            if type < 32 { sliceSeen = true }
            out += bytes[nal.start..<end]
        }
        return out
    }

    // MARK: audio on private stream 1

    /// A camera whose map announces its G.711 on private stream 1 (0xBD), where it sends it:
    /// players get the audio (it used to be skipped as private data).
    @Test func g711OnPrivateStream1ReachesPlayers() async throws {
        let server = try await TestServer.start()
        let port = try #require(server.gb.sharedUDPPort)
        _ = try await server.gb.open(streamID: "gb/bd", ssrc: 100_000_090, mode: .udp)
        let socket = try await GBRawUDP(port: port)
        var muxer = PSMuxer(video: .h264, audio: .g711a)
        muxer.audioStreamID = 0xBD
        var frames = GBTestFrames(ssrc: 100_000_090, sequence: 1)
        frames.muxer = muxer
        func send(_ n: Int) async throws {
            for _ in 0..<n {
                var audio = ByteBuffer()
                let pts = Int64(frames.frame) * 3600
                for p in frames.next() { try await socket.send(p) }
                frames.muxer.writeAudio(ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 320)), pts: pts, into: &audio)
                for p in frames.rtp.packetize(audio, timestamp: UInt32(truncatingIfNeeded: pts)) { try await socket.send(p) }
                try await Task.sleep(nanoseconds: 10_000_000)
            }
        }
        try await send(5)
        #expect(await server.waitPlayable("gb/bd"))
        let player = try await RTMPPlayer.connect(url: server.rtmpURL("gb/bd"), group: Self.group)
        try await send(30)
        let stats = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= 20 && $0.audioFrames >= 20 }
        #expect(stats.error == nil && stats.videoFrames >= 20 && stats.audioFrames >= 20, "RTMP: \(stats)")
        let streams = await server.server.context.registry.source("gb/bd")?.streams ?? []
        #expect(streams.contains { $0.codec == .g711a }, "\(streams)")
        await player.close()
        await socket.close()
        await server.stop()
    }

    // MARK: SSRC changes mid-stream

    /// A camera on its receiver's own UDP port changes its SSRC: the stream follows it (same
    /// Source, the player plays on, one line, one resync). A datagram of the SSRC it left,
    /// arriving late, is not followed back; another address with yet another SSRC stays foreign.
    @Test func anSSRCChangeOnTheOwnUDPPortIsFollowed() async throws {
        let server = try await TestServer.start(gb28181: ", \"port_min\": 47640, \"port_max\": 47659")
        let r = try await server.gb.open(streamID: "gb/ssrc", ssrc: 100_000_083, mode: .udp, port: .fromRange)
        let port = try #require(r.info.port)
        let camera = try await QuirkCamera(ssrc: 100_000_083, port: port)
        for _ in 0..<5 { try await camera.sendFrame() }
        #expect(await server.waitPlayable("gb/ssrc"))
        let source = try #require(server.server.context.registry.source("gb/ssrc"))
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/ssrc.flv", group: Self.group)
        for _ in 0..<30 { try await camera.sendFrame() }
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= 20 }
        let before = player.stats.videoFrames
        #expect(before >= 20, "player: \(player.stats)")

        let old = camera.change(ssrc: 100_000_084)
        try await camera.sendFrame()
        try await camera.socket.send(old)  // a late packet of the old SSRC
        for _ in 0..<40 { try await camera.sendFrame() }
        let stranger = try await GBRawUDP(port: port)
        var strangerFrames = GBTestFrames(ssrc: 100_000_085, sequence: 7)
        for _ in 0..<3 { for p in strangerFrames.next() { try await stranger.send(p) } }
        for _ in 0..<10 { try await camera.sendFrame() }

        let after = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= before + 45 }
        #expect(after.error == nil && !after.closed && after.videoFrames >= before + 45, "frames \(before) → \(after.videoFrames)")
        #expect(server.server.context.registry.source("gb/ssrc") === source)
        #expect(await server.log.count("SSRC changed from 0100000083 to 0100000084", reaching: 1) == 1)
        #expect(await server.log.count("SSRC changed", reaching: 1) == 1, "followed back and forth")
        #expect(await server.log.eventually("unknown SSRC 0100000085"))
        let info = try #require(server.gb.receiver("gb/ssrc")).info
        #expect(info.counters.resyncs == 1 && info.sessions == 1 && info.state == .receiving, "\(info.counters)")
        await player.close()
        await stranger.close()
        await camera.close()
        await server.stop()
    }

    /// On one TCP connection the same: the new SSRC is followed.
    @Test func anSSRCChangeOnATCPConnectionIsFollowed() async throws {
        let server = try await TestServer.start()
        let port = try #require(server.gb.sharedTCPPort)
        _ = try await server.gb.open(streamID: "gb/ssrc-tcp", ssrc: 100_000_086, mode: .tcpPassive)
        let tcp = try await RawConnection.connect(port: port)
        var frames = GBTestFrames(ssrc: 100_000_086, sequence: 100)
        func send(_ n: Int) async throws {
            for _ in 0..<n {
                var framed = ByteBuffer()
                for p in frames.next() { RFC4571.frame(p, into: &framed) }
                try await tcp.send(framed)
                try await Task.sleep(nanoseconds: 10_000_000)
            }
        }
        try await send(5)
        #expect(await server.waitPlayable("gb/ssrc-tcp"))
        let source = server.server.context.registry.source("gb/ssrc-tcp")
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/ssrc-tcp.flv", group: Self.group)
        try await send(25)
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= 20 }
        let before = player.stats.videoFrames
        frames.rtp = RTPPacketizer(ssrc: 100_000_087, sequence: 40_000)
        frames.frame = (frames.frame / 25 + 1) * 25  // the device restarts at a key frame
        try await send(30)
        let after = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= before + 25 }
        #expect(after.error == nil && !after.closed && after.videoFrames >= before + 25, "frames \(before) → \(after.videoFrames)")
        #expect(server.server.context.registry.source("gb/ssrc-tcp") === source)
        #expect(await server.log.count("SSRC changed from 0100000086 to 0100000087", reaching: 1) == 1)
        #expect(!(await tcp.waitClosed(seconds: 0.1)))
        await player.close()
        await tcp.close()
        await server.stop()
    }

    // MARK: sequence restart (camera reboot)

    /// The camera reboots: same SSRC, same address, sequence numbers and PS time stamps start
    /// over. The stream goes on (same Source, the player keeps getting frames, no stall longer
    /// than the reboot itself) and the restart is counted.
    @Test func aCameraRebootDoesNotStallTheStream() async throws {
        let server = try await TestServer.start()
        let port = try #require(server.gb.sharedUDPPort)
        _ = try await server.gb.open(streamID: "gb/reboot", ssrc: 100_000_088, mode: .udp)
        let camera = try await QuirkCamera(ssrc: 100_000_088, port: port)
        for _ in 0..<5 { try await camera.sendFrame() }
        #expect(await server.waitPlayable("gb/reboot"))
        let source = server.server.context.registry.source("gb/reboot")
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/reboot.flv", group: Self.group,
                                                     keepTimestamps: true)
        for _ in 0..<60 { try await camera.sendFrame() }
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= 50 }
        let before = player.stats.videoFrames

        camera.reboot()
        try await Task.sleep(nanoseconds: 200_000_000)  // the reboot
        player.startWindow()
        for _ in 0..<30 { try await camera.sendFrame() }
        let after = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= before + 30 }
        #expect(after.error == nil && !after.closed, "player: \(after)")
        #expect(after.videoFrames >= before + 30, "frames \(before) → \(after.videoFrames): the first GOP after the reboot was lost")
        #expect(after.windowMaxVideoGap < .milliseconds(400), "stalled for \(after.windowMaxVideoGap.nanoseconds / 1_000_000) ms")
        #expect(server.server.context.registry.source("gb/reboot") === source)
        let times = after.videoTimestamps
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 > $0 }, "output times go back after the reboot: \(times)")
        let info = try #require(server.gb.receiver("gb/reboot")).info
        #expect(info.counters.resyncs == 1, "\(info.counters)")
        #expect(await server.log.eventually("sequence of gb/reboot restarted"))
        await player.close()
        await camera.close()
        await server.stop()
    }
}

/// A camera on its own socket whose firmware can change the SSRC or reboot (sequence numbers and
/// time stamps start over).
final class QuirkCamera: Sendable {
    let socket: GBRawUDP
    private let frames: NIOLockedValueBox<GBTestFrames>
    private let last = NIOLockedValueBox<ByteBuffer?>(nil)

    init(ssrc: UInt32, port: Int) async throws {
        socket = try await GBRawUDP(port: port)
        frames = NIOLockedValueBox(GBTestFrames(ssrc: ssrc, sequence: 1000))
    }

    func sendFrame() async throws {
        let packets = frames.withLockedValue { $0.next() }
        last.withLockedValue { $0 = packets.last }
        for p in packets { try await socket.send(p) }
        try await Task.sleep(nanoseconds: 10_000_000)
    }

    /// From the next frame on the camera sends with `ssrc`, starting at a key frame; returns the
    /// last packet sent with the old one.
    func change(ssrc: UInt32) -> ByteBuffer {
        frames.withLockedValue { f in
            f.rtp = RTPPacketizer(ssrc: ssrc, sequence: 20_000)
            f.frame = (f.frame / 25 + 1) * 25
        }
        return last.withLockedValue { $0 } ?? ByteBuffer()
    }

    /// Same SSRC, sequence numbers from 0, time stamps from 0, a key frame first.
    func reboot() {
        frames.withLockedValue { f in
            f.rtp = RTPPacketizer(ssrc: f.rtp.ssrc, sequence: 0)
            f.frame = 0
        }
    }

    func close() async { await socket.close() }
}
