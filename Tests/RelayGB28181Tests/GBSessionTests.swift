import NIOCore
import RelayCore
@testable import RelayGB28181
import RelayRTP
import RelayTestSupport
import Testing

/// The GB28181 TCP session without a socket: RFC 4571-framed RTP/PS from a device through the
/// shared TCP port's pipeline (frame decoder + GBTCPHandler) on a ManualChannel; the service's
/// receivers are the real ones.
@Suite struct GBSessionTests {
    func deviceConnection(_ gb: GB28181Service, loop: ManualLoop, port: Int = 9000) throws -> ManualChannel {
        let channel = ManualChannel(loop: loop, remote: try SocketAddress(ipAddress: "192.0.2.5", port: port))
        try gb.addTCPHandlers(channel, owner: nil, mode: .tcpPassive)
        channel.activate()
        return channel
    }

    @Test func aDevicePublishesOverTCPPassive() async throws {
        let h = try await Harness.start()
        let gb = h.service
        _ = try await gb.open(streamID: "gb/session", ssrc: 100_000_051, mode: .tcpPassive)
        let loop = ManualLoop()
        let channel = try deviceConnection(gb, loop: loop)
        var device = Device(ssrc: 100_000_051)
        channel.receive(device.framed(frames: 10))
        #expect(await loop.run(until: { h.context.sourceIsReady("gb/session") }, step: .milliseconds(40)))
        #expect(h.context.registry.source("gb/session")?.publisher.protocolName == "gb28181")
        #expect(channel.isOpen)
        // Hanging up ends the stream; the API receiver closes with it.
        channel.close(promise: nil)
        #expect(await loop.run(until: { h.context.registry.source("gb/session") == nil && gb.list().isEmpty }))
        await gb.stop()
    }

    @Test func anUnknownSSRCOrGarbageClosesOnlyThatConnection() async throws {
        let h = try await Harness.start()
        let gb = h.service
        _ = try await gb.open(streamID: "gb/known", ssrc: 100_000_052, mode: .tcpPassive)
        let loop = ManualLoop()
        let stranger = try deviceConnection(gb, loop: loop, port: 9001)
        var unknown = Device(ssrc: 100_000_099)
        stranger.receive(unknown.framed(frames: 1))
        #expect(await loop.run(until: { !stranger.isOpen }))

        let garbage = try deviceConnection(gb, loop: loop, port: 9002)
        var g = ByteBuffer()
        g.writeInteger(UInt16(16))
        g.writeBytes([UInt8](repeating: 0x11, count: 16))  // RTP version 0
        garbage.receive(g)
        #expect(await loop.run(until: { !garbage.isOpen }))

        // The receiver still waits for its device.
        let device = try deviceConnection(gb, loop: loop, port: 9003)
        var d = Device(ssrc: 100_000_052)
        device.receive(d.framed(frames: 10))
        #expect(await loop.run(until: { h.context.sourceIsReady("gb/known") }, step: .milliseconds(40)))
        device.close(promise: nil)
        _ = await loop.run(until: { gb.list().isEmpty })
        await gb.stop()
    }
}
