import NIOCore
import RelayCore
@testable import RelayJT1078
import RelayTestSupport
import Testing

/// The JT/T 1078 terminal session without sockets: packages as bytes through the listener's
/// frame decoder and JT1078ConnectionHandler, into a Source.
@Suite struct JT1078SessionTests {
    final class Harness: TestRelay {
        func connect(port: Int = 8000) throws -> ManualChannel {
            let channel = try peerChannel(ip: "192.0.2.4", port: port)
            let decoder = JT1078FrameDecoder(version: nil, maxBodyBytes: relay.config.jt1078.maxBodyBytes)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder, maximumBufferSize: decoder.maximumBufferSize))
            try channel.pipeline.syncOperations.addHandler(JT1078ConnectionHandler(relay: relay, pinned: nil))
            channel.activate()
            return channel
        }    }

    /// One second of H.264 (a key frame, then P frames) and G.711 A-law, 40 ms apart, as a
    /// terminal sends it.
    static func terminalStream(sim: String, channel: UInt8, version: JT1078Version) throws -> ByteBuffer {
        var packetizer = try JT1078Packetizer(version: version, sim: sim, channel: channel, maxBody: 950)
        var out = ByteBuffer()
        for i in 0..<25 {
            let ms = UInt64(i * 40)
            let frame = i == 0 ? Fixtures.keyFrameH264() : Fixtures.annexB([Fixtures.h264Slice(key: false, size: 800, seed: UInt8(i))])
            packetizer.packetize(frame, payloadType: 98, dataType: i == 0 ? .iFrame : .pFrame, timestamp: ms, into: &out)
            packetizer.packetize(ByteBuffer(repeating: 0xD5, count: 320), payloadType: 6, dataType: .audio, timestamp: ms, into: &out)
        }
        return out
    }

    @Test(arguments: [JT1078Version.v2016, .v2019])
    func aTerminalPublishesVideoAndAudio(version: JT1078Version) async throws {
        let h = Harness()
        let channel = try h.connect()
        channel.receive(try Self.terminalStream(sim: "13912345678", channel: 1, version: version))
        #expect(await h.loop.run(until: { h.relay.registry.sources.count == 1 }))
        let source = try #require(h.relay.registry.sources.first)
        #expect(source.id.hasSuffix("13912345678/1"))
        #expect(source.publisher.protocolName == "jt1078")
        #expect(await h.loop.run(until: { h.relay.sourceIsReady(source.id) }))
        #expect(channel.isOpen)
    }

    @Test func bytesThatAreNotJT1078CloseTheConnectionPastTheGarbageLimit() async throws {
        let h = Harness()
        let good = try h.connect(port: 8001)
        good.receive(try Self.terminalStream(sim: "13900000001", channel: 2, version: .v2019))
        let hostile = try h.connect(port: 8002)
        // Garbage is skipped while looking for a package (a terminal may resync), but not forever.
        let limit = JT1078FrameDecoder(version: nil, maxBodyBytes: h.relay.config.jt1078.maxBodyBytes).maxGarbageBytes
        hostile.receive(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + String(repeating: "A", count: limit + 1)))
        #expect(await h.loop.run(until: { !hostile.isOpen }))
        #expect(good.isOpen)
        #expect(h.relay.registry.sources.count == 1)
    }

    @Test func aTruncatedPackageMakesNoSourceAndWaitsForTheRest() async throws {
        let h = Harness()
        let channel = try h.connect()
        var stream = try Self.terminalStream(sim: "13900000003", channel: 1, version: .v2016)
        channel.receive(stream.readSlice(length: 40) ?? ByteBuffer())  // half a header and body
        h.loop.run()
        #expect(channel.isOpen)  // waiting for the rest is legitimate; the guard's idle timer ends it
        #expect(h.relay.registry.sources.isEmpty)
    }
}
