import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
@testable import RelayGB28181
import RelayRTP
import RelayTestSupport
import Testing

/// `frames` steps of a device, `everyMs` apart: devices send in real time, not in one burst.
func paced(_ frames: Int, everyMs: UInt64 = 10, _ step: () async throws -> Void) async throws {
    for _ in 0..<frames {
        try await step()
        try await Task.sleep(nanoseconds: everyMs * 1_000_000)
    }
}

/// A GB28181 service on loopback with free ports, without the rest of the server.
struct Harness {
    let service: GB28181Service
    let context: RelayContext
    let lines: LogLines

    /// `ports`: the receivers' own port range (suites that run side by side use different ones).
    static func start(_ extra: String = "", source: String = "", ports: ClosedRange<Int> = 47100...47199) async throws -> Harness {
        let json = """
        {"gb28181": {"host": "127.0.0.1", "shared_udp_port": 0, "shared_tcp_port": 0,
                     "port_min": \(ports.lowerBound), "port_max": \(ports.upperBound), "connect_retry_ms": 200\(extra)},
         "source": {"track_wait_ms": 300\(source)}}
        """
        let config = try RelayConfig.parse(Data(json.utf8), sections: [GB28181Config.self])
        let lines = LogLines()
        let context = RelayContext(config: config, muxers: [], logger: lines.logger(label: "gb-test"))
        let service = GB28181Service(context: context, group: MultiThreadedEventLoopGroup.singleton)
        try await service.start()
        return Harness(service: service, context: context, lines: lines)
    }

    /// A UDP receiver on the shared port per (stream id, device), and a socket sending to it.
    func udpReceivers(_ streams: KeyValuePairs<String, Device>) async throws -> UDPClient {
        for (id, device) in streams { _ = try await service.open(streamID: id, ssrc: device.ssrc, mode: .udp) }
        return try await UDPClient.make(port: try #require(service.sharedUDPPort))
    }

    func waitFor(_ seconds: Double = 5, _ condition: () async -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await condition() { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return await condition()
    }

    func playable(_ id: String) async -> Bool {
        if let s = context.registry.source(id) { return await s.isReady }
        return false
    }
}

/// Builds GB28181 RTP/PS packets of fake frames around real parameter sets.
struct Device {
    static let sps = hexBuffer("6742c00ad9047b011000000300100000030320f1226480")
    static let pps = hexBuffer("68cb83cb20")

    let ssrc: UInt32
    var muxer = PSMuxer(video: .h264, audio: .g711a)
    var rtp: RTPPacketizer
    var frame = 0

    init(ssrc: UInt32) {
        self.ssrc = ssrc
        rtp = RTPPacketizer(ssrc: ssrc, sequence: 100)
    }

    /// The next `frames` frames as a TCP device sends them (RFC 4571: a length before each packet).
    mutating func framed(frames: Int = 1) -> ByteBuffer {
        var out = ByteBuffer()
        for _ in 0..<frames {
            for packet in next() { RFC4571.frame(packet, into: &out) }
        }
        return out
    }

    /// One 40 ms frame (key every 25) and its audio, as RTP packets.
    mutating func next() -> [ByteBuffer] {
        let key = frame % 25 == 0
        let body = (0..<2500).map { UInt8(truncatingIfNeeded: 1 + ($0 * 13 + frame) % 250) }
        let slice = ByteBuffer(bytes: [key ? 0x65 : 0x41, 0x88] + body)
        let pts = Int64(frame) * 3600
        var ps = ByteBuffer()
        muxer.writeVideo(nals: key ? [Self.sps, Self.pps, slice] : [slice], pts: pts, isKey: key, into: &ps)
        var packets = rtp.packetize(ps, timestamp: UInt32(pts))
        var audio = ByteBuffer()
        muxer.writeAudio(ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 320)), pts: pts, into: &audio)
        packets += rtp.packetize(audio, timestamp: UInt32(pts))
        frame += 1
        return packets
    }
}

/// A UDP socket for sending datagrams to the service.
struct UDPClient {
    let channel: any Channel
    let target: SocketAddress

    static func make(port: Int) async throws -> UDPClient {
        let ch = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        return UDPClient(channel: ch, target: try SocketAddress(ipAddress: "127.0.0.1", port: port))
    }

    func send(_ packets: [ByteBuffer]) async throws {
        for p in packets { channel.write(AddressedEnvelope(remoteAddress: target, data: p), promise: nil) }
        channel.flush()
    }

    func close() async { try? await channel.close() }
}

@Suite(.serialized)
struct GBServiceTests {
    @Test func ssrcIsTenDecimalDigits() throws {
        #expect(try GBSSRC.parse("0100000001") == 100_000_001)
        #expect(try GBSSRC.parse("4294967295") == UInt32.max)
        #expect(GBSSRC.format(100_000_001) == "0100000001")
        #expect(GBSSRC.isPlayback(try GBSSRC.parse("1100000001")))
        #expect(throws: GBError.self) { try GBSSRC.parse("4294967296") }
        #expect(throws: GBError.self) { try GBSSRC.parse("01000000011") }
        #expect(throws: GBError.self) { try GBSSRC.parse("0x12") }
        #expect(throws: GBError.self) { try GBSSRC.parse("") }
    }

    @Test func openListCloseAndRefusals() async throws {
        let h = try await Harness.start()
        let gb = h.service
        let udpPort = try #require(gb.sharedUDPPort)
        let r = try await gb.open(streamID: "gb/a", ssrc: 100_000_001, mode: .udp)
        #expect(r.info.port == udpPort && r.info.sharedPort && r.info.state == .waiting)
        await #expect(throws: GBError.duplicateStream("gb/a")) {
            _ = try await gb.open(streamID: "gb/a", ssrc: 100_000_002, mode: .udp)
        }
        await #expect(throws: GBError.duplicateSSRC("0100000001")) {
            _ = try await gb.open(streamID: "gb/b", ssrc: 100_000_001, mode: .tcpPassive)
        }
        await #expect(throws: GBError.ssrcRequired(.udp)) { _ = try await gb.open(streamID: "gb/c", ssrc: nil, mode: .udp) }
        // tcp-active without the device's address waits for `connect` (the device's INVITE answer).
        let waiting = try await gb.open(streamID: "gb/d", ssrc: 5, mode: .tcpActive)
        #expect(waiting.info.port == nil && waiting.info.deviceHost == nil && waiting.info.state == .waiting)
        #expect(await gb.close(streamID: "gb/d"))
        await #expect(throws: GBError.invalidStreamID("../x")) { _ = try await gb.open(streamID: "../x", ssrc: 6, mode: .udp) }
        let own = try await gb.open(streamID: "gb/own", ssrc: nil, mode: .tcpPassive, port: .fromRange)
        let ownPort = try #require(own.info.port)
        #expect((47100...47199).contains(ownPort) && !own.info.sharedPort)
        #expect(gb.list().map(\.streamID) == ["gb/a", "gb/own"])
        #expect(await gb.close(streamID: "gb/own"))
        #expect(await !gb.close(streamID: "gb/own"))
        // The port is free again.
        let again = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: ownPort).get()
        try await again.close()
        await gb.stop()
        #expect(gb.list().isEmpty)
    }

    @Test func udpSharedPortDemuxesBySSRCAndDropsStrangers() async throws {
        let h = try await Harness.start()
        let gb = h.service
        var one = Device(ssrc: 100_000_011)
        var two = Device(ssrc: 100_000_012)
        var stranger = Device(ssrc: 100_000_099)
        let client = try await h.udpReceivers(["gb/one": one, "gb/two": two])
        for _ in 0..<30 {
            try await client.send(one.next() + two.next() + stranger.next())
            try await client.send([ByteBuffer(bytes: (0..<100).map { _ in UInt8.random(in: 0...0x7F) })])  // not RTP (version 0/1)
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        #expect(await h.waitFor { await h.playable("gb/one") })
        #expect(await h.waitFor { await h.playable("gb/two") })
        let streams = try #require(await h.context.registry.source("gb/one")?.streams)
        #expect(streams.contains { $0.codec == .h264 && $0.video?.width == 64 })
        #expect(streams.contains { $0.codec == .g711a })
        let info = try #require(gb.list().first { $0.streamID == "gb/one" })
        #expect(info.state == .receiving && info.packets > 30 && info.lost == 0)
        #expect(h.lines.contains("unknown SSRC 0100000099"))
        #expect(h.lines.contains("dropping a UDP datagram"))
        // Rate-limited: one line for the stranger's many packets.
        #expect(h.lines.count("unknown SSRC") == 1)
        await client.close()
        await gb.stop()
        #expect(h.context.registry.source("gb/one") == nil)
    }

    @Test func receiveTimeoutEndsTheSourceClosesAPIReceiversAndKeepsConfigOnes() async throws {
        let h = try await Harness.start(", \"receivers\": [{\"stream\": \"gb/static\", \"ssrc\": \"0100000022\"}]",
                                        source: ", \"receive_timeout_ms\": 600")
        let gb = h.service
        var d = Device(ssrc: 100_000_021)
        var s = Device(ssrc: 100_000_022)  // the configured receiver's
        let client = try await h.udpReceivers(["gb/dynamic": d])
        try await paced(10, everyMs: 20) { try await client.send(d.next() + s.next()) }
        #expect(await h.waitFor { await h.playable("gb/dynamic") && h.context.registry.source("gb/static") != nil })
        // Silence: both sources end; the API receiver is gone, the configured one waits again.
        #expect(await h.waitFor(5) {
            h.context.registry.source("gb/dynamic") == nil && h.context.registry.source("gb/static") == nil
        })
        #expect(await h.waitFor { gb.list().map(\.streamID) == ["gb/static"] })
        #expect(gb.list().first?.state == .waiting)
        // The configured one takes a new stretch of media.
        try await paced(10, everyMs: 20) { try await client.send(s.next()) }
        #expect(await h.waitFor { h.context.registry.source("gb/static") != nil })
        #expect(gb.list().first?.sessions == 2)
        await client.close()
        await gb.stop()
    }

    /// Over UDP a malformed frame costs that frame only: the parser resynchronises, the stream,
    /// its receiver and the other streams go on (issue 16, defect 4).
    @Test func anImpossiblePESLengthOnUDPDropsOnlyThatFrame() async throws {
        let h = try await Harness.start()
        let gb = h.service
        var good = Device(ssrc: 100_000_031)
        var bad = Device(ssrc: 100_000_032)
        let client = try await h.udpReceivers(["gb/good": good, "gb/bad": bad])
        try await paced(10) { try await client.send(good.next() + bad.next()) }
        #expect(await h.waitFor { await h.playable("gb/good") && h.context.registry.source("gb/bad") != nil })
        let source = try #require(h.context.registry.source("gb/bad"))
        // A pack whose PES length (2) cannot hold its header.
        var ps = ByteBuffer()
        PSMuxer.writePackHeader(scr: 0, into: &ps)
        ps.writeBytes([0x00, 0x00, 0x01, 0xE0, 0x00, 0x02, 0x80, 0x80, 0x05, 0x21, 0x00, 0x01, 0x00, 0x01])
        try await client.send(bad.rtp.packetize(ps, timestamp: 999_999))
        #expect(await h.waitFor { (gb.receiver("gb/bad")?.info.malformedPackets ?? 0) == 1 })
        #expect(h.lines.count("impossible PES length 2") == 1)
        #expect(h.lines.contains("dropping malformed program stream data of gb/bad"))
        // Both keep going; the bad one is the same source, still receiving.
        let before = try #require(gb.receiver("gb/bad")).info.packets
        try await paced(30) { try await client.send(good.next() + bad.next()) }
        #expect(await h.waitFor { (gb.receiver("gb/bad")?.info.packets ?? 0) > before })
        #expect(h.context.registry.source("gb/bad") === source)
        #expect(gb.receiver("gb/bad")?.info.state == .receiving)
        #expect(h.context.registry.source("gb/good") != nil)
        await client.close()
        await gb.stop()
    }

    /// A datagram with a live stream's SSRC from another address is dropped and counted, even a
    /// malformed one; once the pinned address is silent for `repin_after_ms` the stream moves
    /// (issue 16, defect 4).
    @Test func udpStreamsArePinnedToTheirFirstSourceAddress() async throws {
        let h = try await Harness.start(", \"repin_after_ms\": 400")
        let gb = h.service
        _ = try await gb.open(streamID: "gb/pinned", ssrc: 100_000_033, mode: .udp)
        let port = try #require(gb.sharedUDPPort)
        let camera = try await UDPClient.make(port: port)
        let intruder = try await UDPClient.make(port: port)
        var d = Device(ssrc: 100_000_033)
        try await paced(10) { try await camera.send(d.next()) }
        #expect(await h.waitFor { await h.playable("gb/pinned") })
        let source = try #require(h.context.registry.source("gb/pinned"))
        // The injection: same SSRC, next sequence number, a pack header that is no pack header.
        for _ in 0..<3 {
            try await camera.send(d.next())
            var rtp = RTPPacketizer(ssrc: 100_000_033, sequence: d.rtp.sequence)
            try await intruder.send(rtp.packetize(ByteBuffer(bytes: [0x00, 0x00, 0x01, 0xBA, 0xFF, 0xFF, 0xFF, 0xFF]), timestamp: 1))
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(await h.waitFor { (gb.receiver("gb/pinned")?.info.foreignPackets ?? 0) == 3 })
        #expect(h.lines.count("is pinned to") == 1, "one rate-limited line for three packets")
        #expect(gb.receiver("gb/pinned")?.info.malformedPackets == 0)
        #expect(h.context.registry.source("gb/pinned") === source)
        // The camera falls silent; after repin_after_ms the stream follows its new address.
        try await Task.sleep(nanoseconds: 600_000_000)
        let moved = try await UDPClient.make(port: port)
        try await paced(5) { try await moved.send(d.next()) }
        #expect(await h.waitFor { gb.receiver("gb/pinned")?.info.repins == 1 })
        #expect(h.lines.contains("GB28181 stream gb/pinned moves from"))
        #expect(h.context.registry.source("gb/pinned") === source)
        // …and the old address is foreign now.
        try await camera.send(d.next())
        #expect(await h.waitFor { (gb.receiver("gb/pinned")?.info.foreignPackets ?? 0) > 3 })
        await camera.close()
        await intruder.close()
        await moved.close()
        await gb.stop()
    }

    @Test func tcpPassiveOnTheSharedPortBindsByTheFirstSSRCAndDropsGarbage() async throws {
        let h = try await Harness.start()
        let gb = h.service
        _ = try await gb.open(streamID: "gb/tcp", ssrc: 100_000_041, mode: .tcpPassive)
        let port = try #require(gb.sharedTCPPort)
        let recorder = ClosedFlag()
        func connect() async throws -> any Channel {
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { ch in
                    ch.closeFuture.whenComplete { _ in recorder.mark(ch) }
                    return ch.eventLoop.makeSucceededVoidFuture()
                }
                .connect(host: "127.0.0.1", port: port).get()
        }
        // Garbage: one 65535-byte frame of random bytes (first byte not RTP version 2).
        let garbage = try await connect()
        var g = ByteBuffer()
        g.writeInteger(UInt16(65535))
        g.writeBytes([0x11] + (0..<65534).map { _ in UInt8.random(in: 0...255) })
        try await garbage.writeAndFlush(g)
        #expect(await h.waitFor { recorder.closed(garbage) })
        #expect(h.lines.contains("RTP version 0"))

        let device = try await connect()
        var d = Device(ssrc: 100_000_041)
        try await paced(10) { try await device.writeAndFlush(d.framed()) }
        #expect(await h.waitFor { await h.playable("gb/tcp") })
        // A second connection for the same SSRC is refused while the first is live.
        let second = try await connect()
        try await second.writeAndFlush(d.framed())
        #expect(await h.waitFor { recorder.closed(second) })
        #expect(h.lines.contains("already has a connection"))
        // Hanging up ends the source; an API receiver then closes.
        try await device.close()
        #expect(await h.waitFor { h.context.registry.source("gb/tcp") == nil && gb.list().isEmpty })
        await gb.stop()
    }

    @Test func tcpActiveDialsTheDeviceAndRetries() async throws {
        let h = try await Harness.start()
        let gb = h.service
        // Reserve a port for the device, but do not listen yet: the server must retry.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(probe.localAddress?.port)
        try await probe.close()
        let r = try await gb.open(streamID: "gb/active", ssrc: 100_000_051, mode: .tcpActive, deviceAddress: "127.0.0.1:\(port)")
        #expect(r.info.port == port)
        try await Task.sleep(nanoseconds: 500_000_000)
        let accepted = NIOLockedValueBox<(any Channel)?>(nil)
        let device = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                accepted.withLockedValue { $0 = ch }
                return ch.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: port).get()
        #expect(await h.waitFor { accepted.withLockedValue { $0 } != nil })
        let conn = try #require(accepted.withLockedValue { $0 })
        var d = Device(ssrc: 100_000_051)
        try await paced(10) { try await conn.writeAndFlush(d.framed()) }
        #expect(await h.waitFor { await h.playable("gb/active") })
        #expect(gb.list().first?.state == .receiving)
        await gb.stop()
        try? await conn.close()
        try await device.close()
    }
}

final class ClosedFlag: Sendable {
    private let ids = NIOLockedValueBox<Set<ObjectIdentifier>>([])
    func mark(_ ch: any Channel) { ids.withLockedValue { _ = $0.insert(ObjectIdentifier(ch)) } }
    func closed(_ ch: any Channel) -> Bool { ids.withLockedValue { $0.contains(ObjectIdentifier(ch)) } }
}
