import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayGB28181
import RelayRTP
import Testing

/// Issue 16, defects 4–6, from the outside: a real server, a camera sending RTP/PS over UDP to
/// the shared port with an HTTP-FLV player on its stream, and an attacker on raw sockets. Each
/// attack must leave the server up, the camera's stream and player untouched, the admin API
/// answering within 100 ms, and the offending input dropped with one clear log line.
@Suite(.serialized)
struct HardeningGBTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// Defect 4: a datagram with the camera's SSRC and its next sequence number from another
    /// address, carrying a pack header that is no pack header. It used to be demuxed into the
    /// camera's session and close the stream, its receiver and its players.
    @Test func aForeignDatagramWithTheCamerasSSRCIsDroppedNotDemuxed() async throws {
        let server = try await TestServer.start()
        let admin = AdminHTTP(port: server.adminPort)
        let port = try #require(server.gb.sharedUDPPort)
        let opened = try await admin.post("/api/v1/gb28181/receivers", json: #"{"stream": "gb/cam", "ssrc": "0100000061"}"#)
        #expect(opened.status == 201, "\(opened.text)")
        let camera = try await GBTestCamera(ssrc: 100_000_061, port: port)
        for _ in 0..<10 { try await camera.sendFrame() }
        #expect(await server.waitPlayable("gb/cam"))
        let source = try #require(server.server.context.registry.source("gb/cam"))
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/cam.flv", group: Self.group)
        for _ in 0..<10 { try await camera.sendFrame() }
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }

        let attacker = try await GBRawUDP(port: port)
        for _ in 0..<5 {
            var forged = RTPPacketizer(ssrc: 100_000_061, sequence: camera.nextSequence)
            for p in forged.packetize(ByteBuffer(bytes: [0x00, 0x00, 0x01, 0xBA, 0xFF, 0xFF, 0xFF, 0xFF]), timestamp: 7) {
                try await attacker.send(p)
            }
            try await camera.sendFrame()
        }
        let before = player.stats.videoFrames
        for _ in 0..<25 { try await camera.sendFrame() }
        let after = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= before + 20 }
        #expect(after.error == nil && !after.closed, "player: \(after)")
        #expect(after.videoFrames >= before + 20, "camera frames \(before) → \(after.videoFrames)")
        #expect(server.server.context.registry.source("gb/cam") === source)
        #expect(await server.log.count("is pinned to", reaching: 1) == 1, "one rate-limited line")
        #expect(!server.log.contains("invalid MPEG-PS pack header"))
        try await Self.expectAdminAnswers(admin)
        let info = try #require(server.gb.receiver("gb/cam")).info
        #expect(info.foreignPackets == 5 && info.malformedPackets == 0 && info.state == .receiving)
        await player.close()
        await camera.close()
        await attacker.close()
        await server.stop()
    }

    /// Defect 5: false start codes used to recurse once each in the PS parser: a 64 KiB frame of
    /// `00 00 01 E0` or a 65535-byte map of `00 00 01 BA` overflowed the stack. Over UDP (first
    /// packets, then again once in sync) and TCP passive; the camera plays on throughout.
    @Test func falseStartCodeFloodsLeaveTheServerAndOtherStreamsUp() async throws {
        let server = try await TestServer.start()
        let admin = AdminHTTP(port: server.adminPort)
        let udpPort = try #require(server.gb.sharedUDPPort)
        let tcpPort = try #require(server.gb.sharedTCPPort)
        _ = try await server.gb.open(streamID: "gb/flood", ssrc: 100_000_063, mode: .udp)
        _ = try await server.gb.open(streamID: "gb/flood-tcp", ssrc: 100_000_064, mode: .tcpPassive)
        let (camera, feed, player) = try await Self.watchedCamera(server, ssrc: 100_000_062, port: udpPort)

        // UDP: the floods as the stream's first packets (the parser is seeking), then a good
        // frame, then the floods again (in sync: one frame dropped, the stream goes on).
        let flooder = try await GBRawUDP(port: udpPort)
        var rtp = RTPPacketizer(ssrc: 100_000_063, maxPayload: 65_000)
        for p in rtp.packetize(GBFloods.falsePES(bytes: 64_000), timestamp: 0) + rtp.packetize(GBFloods.falsePackMap(), timestamp: 3600) {
            try await flooder.send(p)
        }
        var device = GBTestFrames(ssrc: 100_000_063, sequence: rtp.sequence)
        for _ in 0..<3 { for p in device.next() { try await flooder.send(p) } }
        #expect(await GB28181Tests.wait { server.server.context.registry.source("gb/flood") != nil })
        let source = server.server.context.registry.source("gb/flood")
        rtp = RTPPacketizer(ssrc: 100_000_063, sequence: device.rtp.sequence, maxPayload: 65_000)
        for p in rtp.packetize(GBFloods.falsePES(bytes: 64_000), timestamp: 99_000) { try await flooder.send(p) }
        device.rtp = RTPPacketizer(ssrc: 100_000_063, sequence: rtp.sequence)
        for _ in 0..<3 { for p in device.next() { try await flooder.send(p) } }
        #expect(await GB28181Tests.wait { (server.gb.receiver("gb/flood")?.info.malformedPackets ?? 0) == 1 })
        #expect(await server.log.count("dropping malformed program stream data of gb/flood", reaching: 1) == 1)
        #expect(server.server.context.registry.source("gb/flood") === source)

        // TCP passive: the same floods in RFC 4571 frames, then in sync: that connection closes.
        let tcp = try await RawConnection.connect(port: tcpPort)
        rtp = RTPPacketizer(ssrc: 100_000_064, maxPayload: 65_000)
        var framed = ByteBuffer()
        for p in rtp.packetize(GBFloods.falsePES(bytes: 64_000), timestamp: 0) + rtp.packetize(GBFloods.falsePackMap(), timestamp: 3600) {
            #expect(RFC4571.frame(p, into: &framed))
        }
        device = GBTestFrames(ssrc: 100_000_064, sequence: rtp.sequence)
        for _ in 0..<3 { for p in device.next() { RFC4571.frame(p, into: &framed) } }
        try await tcp.send(framed)
        #expect(await GB28181Tests.wait { server.server.context.registry.source("gb/flood-tcp") != nil })
        framed.clear()
        rtp = RTPPacketizer(ssrc: 100_000_064, sequence: device.rtp.sequence, maxPayload: 65_000)
        for p in rtp.packetize(GBFloods.falsePES(bytes: 64_000), timestamp: 99_000) { RFC4571.frame(p, into: &framed) }
        try await tcp.send(framed)
        #expect(await tcp.waitClosed(seconds: 5), "the flooding TCP connection stays open")
        #expect(await server.log.count("closing GB28181 stream gb/flood-tcp", reaching: 1) == 1)

        // The camera and its player never noticed.
        await Self.expectPlaysOn(player)
        try await Self.expectAdminAnswers(admin)
        feed.cancel()
        await player.close()
        await tcp.close()
        await flooder.close()
        await camera.close()
        await server.stop()
    }

    /// Defect 6: with `reorder_window` 100, sequence numbers 65500, 65501, 65510, 10, 3500 put
    /// two packets in one slot (`seq % 100` across the wrap) and `flush` spun for ever on the
    /// event loop. The receiver must go on taking packets, the camera on the same server keep
    /// playing and the admin API answer.
    @Test func aReorderSlotCollisionAcrossTheWrapDoesNotHangTheEventLoop() async throws {
        let server = try await TestServer.start(gb28181: #", "reorder_window": 100"#)
        let admin = AdminHTTP(port: server.adminPort)
        let port = try #require(server.gb.sharedUDPPort)
        _ = try await server.gb.open(streamID: "gb/wrap", ssrc: 100_000_066, mode: .udp)
        let (camera, feed, player) = try await Self.watchedCamera(server, ssrc: 100_000_065, port: port)

        let attacker = try await GBRawUDP(port: port)
        var pack = ByteBuffer()
        PSMuxer.writePackHeader(scr: 0, into: &pack)
        for seq: UInt16 in [65500, 65501, 65510, 10, 3500] {
            var p = RTPPacketizer(ssrc: 100_000_066, sequence: seq)
            for packet in p.packetize(pack, timestamp: 0) { try await attacker.send(packet) }
        }
        // The receiver's loop is free: later packets are counted, the camera plays on.
        #expect(await GB28181Tests.wait { (server.gb.receiver("gb/wrap")?.info.packets ?? 0) == 5 })
        var more = RTPPacketizer(ssrc: 100_000_066, sequence: 3501)
        for p in more.packetize(ByteBuffer(bytes: [0, 0, 1, 0xB9]), timestamp: 0) { try await attacker.send(p) }
        #expect(await GB28181Tests.wait { (server.gb.receiver("gb/wrap")?.info.packets ?? 0) == 6 })
        try await Self.expectAdminAnswers(admin)
        await Self.expectPlaysOn(player)
        #expect(server.log.contains("RTP loss") || (server.gb.receiver("gb/wrap")?.info.lost ?? 0) > 0)
        feed.cancel()
        await player.close()
        await attacker.close()
        await camera.close()
        await server.stop()
    }

    // MARK: helpers

    /// A UDP receiver on gb/cam, its camera feeding on its own and an HTTP-FLV player that has
    /// its first frame: the stream each attack must leave alone.
    static func watchedCamera(_ server: TestServer, ssrc: UInt32, port: Int) async throws
        -> (GBTestCamera, Task<Void, Never>, HTTPFLVPlayer) {
        _ = try await server.gb.open(streamID: "gb/cam", ssrc: ssrc, mode: .udp)
        let camera = try await GBTestCamera(ssrc: ssrc, port: port)
        let feed = camera.run()
        #expect(await server.waitPlayable("gb/cam"))
        let player = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/cam.flv", group: group)
        _ = await player.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        return (camera, feed, player)
    }

    /// The player gets 20 more frames without an error: the camera's stream never noticed.
    static func expectPlaysOn(_ player: HTTPFLVPlayer) async {
        let before = player.stats.videoFrames
        let after = await player.wait(timeout: .seconds(5)) { $0.videoFrames >= before + 20 }
        #expect(after.error == nil && !after.closed && after.videoFrames >= before + 20, "player: \(after)")
    }

    /// The receivers list answers, each time within 100 ms.
    static func expectAdminAnswers(_ admin: AdminHTTP) async throws {
        for _ in 0..<3 {
            let start = NIODeadline.now()
            let r = try await admin.request("GET", "/api/v1/gb28181/receivers", timeout: 2)
            let ms = (NIODeadline.now() - start).nanoseconds / 1_000_000
            #expect(r.status == 200)
            #expect(ms < 100, "admin answered in \(ms) ms")
        }
    }
}

/// The hostile payloads of defect 5.
enum GBFloods {
    /// `00 00 01 E0` repeated: PES start codes whose headers are no headers.
    static func falsePES(bytes: Int) -> ByteBuffer {
        var b = ByteBuffer()
        for _ in 0..<(bytes / 4) { b.writeBytes([0x00, 0x00, 0x01, 0xE0]) }
        return b
    }

    /// A program stream map claiming 65535 bytes (and program info overrunning it), its body
    /// `00 00 01 BA` repeated: pack start codes whose headers are no headers.
    static func falsePackMap() -> ByteBuffer {
        var b = ByteBuffer(bytes: [0x00, 0x00, 0x01, 0xBC, 0xFF, 0xFF, 0xE0, 0x00, 0xFF, 0xFF])
        while b.readableBytes < 6 + 65535 { b.writeBytes([0x00, 0x00, 0x01, 0xBA]) }
        return b
    }
}

/// RTP/PS packets of fake 40 ms frames around real H.264 parameter sets (a key frame every 25).
struct GBTestFrames {
    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x0A, 0xD9, 0x04, 0x7B, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
                               0x00, 0x00, 0x03, 0x03, 0x20, 0xF1, 0x22, 0x64, 0x80]
    static let pps: [UInt8] = [0x68, 0xCB, 0x83, 0xCB, 0x20]

    var muxer = PSMuxer(video: .h264, audio: nil)
    var rtp: RTPPacketizer
    var frame = 0

    init(ssrc: UInt32, sequence: UInt16) { rtp = RTPPacketizer(ssrc: ssrc, sequence: sequence) }

    mutating func next() -> [ByteBuffer] {
        let key = frame % 25 == 0
        let body = (0..<1500).map { UInt8(truncatingIfNeeded: 1 + ($0 * 13 + frame) % 250) }
        let slice = ByteBuffer(bytes: [key ? 0x65 : 0x41, 0x88] + body)
        let pts = Int64(frame) * 3600
        var ps = ByteBuffer()
        let nals = key ? [ByteBuffer(bytes: Self.sps), ByteBuffer(bytes: Self.pps), slice] : [slice]
        muxer.writeVideo(nals: nals, pts: pts, isKey: key, into: &ps)
        frame += 1
        return rtp.packetize(ps, timestamp: UInt32(truncatingIfNeeded: pts))
    }
}

/// A raw UDP socket aimed at the server's shared port.
struct GBRawUDP {
    let channel: any Channel
    let target: SocketAddress

    init(port: Int) async throws {
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_sndbuf), value: 1 << 20)
            .bind(host: "127.0.0.1", port: 0).get()
        target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
    }

    func send(_ packet: ByteBuffer) async throws {
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: packet))
    }

    func close() async { try? await channel.close() }
}

/// A camera: frames from its own socket, one at a time or every 40 ms on a task.
final class GBTestCamera: Sendable {
    private let socket: GBRawUDP
    private let frames: NIOLockedValueBox<GBTestFrames>

    init(ssrc: UInt32, port: Int) async throws {
        socket = try await GBRawUDP(port: port)
        frames = NIOLockedValueBox(GBTestFrames(ssrc: ssrc, sequence: 1000))
    }

    /// The sequence number of the camera's next packet.
    var nextSequence: UInt16 { frames.withLockedValue { $0.rtp.sequence } }

    func sendFrame() async throws {
        let packets = frames.withLockedValue { $0.next() }
        for p in packets { try await socket.send(p) }
        try await Task.sleep(nanoseconds: 5_000_000)
    }

    func run() -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await self.sendFrame()
                try? await Task.sleep(nanoseconds: 35_000_000)
            }
        }
    }

    func close() async { await socket.close() }
}
