import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayCore
import RelayGB28181
import RelayJT1078
import Testing

/// Every ingest follows `source.reject_duplicate_publish` the same way (one admission path):
/// on, a second publisher of a live id is refused and the refusal names the real holder; off,
/// the newcomer takes over (another protocol's stream only with `cross_protocol_takeover`).
@Suite(.serialized)
struct DuplicatePublishTests {
    static let takeover = "\"source\": {\"reject_duplicate_publish\": false, \"cross_protocol_takeover\": true}"

    func holder(_ server: TestServer, _ id: String) -> String? {
        server.server.context.registry.source(id).map { "\($0.publisher.protocolName) \($0.publisher.remoteAddress)" }
    }

    // MARK: RTMP

    @Test func rtmpRefusesASecondPublisherWhenRejecting() async throws {
        let server = try await TestServer.start()
        let first = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "dup")
        let held = try #require(holder(server, "live/dup"))
        await #expect(throws: RawRTMPPublisher.Failed.self) {
            _ = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "dup")
        }
        #expect(await server.log.eventually("already being published (by \(held))"), "\(server.log.lines.suffix(5))")
        #expect(holder(server, "live/dup") == held)
        #expect(!first.isClosed)
        await first.close()
        await server.stop()
    }

    @Test func rtmpTakesOverWhenNotRejecting() async throws {
        let server = try await TestServer.start("\"source\": {\"reject_duplicate_publish\": false}")
        let first = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "dup")
        let held = try #require(holder(server, "live/dup"))
        let second = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "dup")
        #expect(await first.waitClosed(seconds: 5), "the replaced publisher is hung up on")
        #expect(await server.log.eventually("replaces the current publisher \(held)"))
        #expect(holder(server, "live/dup") != held)
        #expect(!second.isClosed)
        await second.close()
        await server.stop()
    }

    // MARK: GB28181

    @Test func gbRefusesAnIDHeldByAnotherPublisherWhenRejectingNamingIt() async throws {
        let server = try await TestServer.start()
        let rtmp = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "gb")
        let held = try #require(holder(server, "live/gb"))
        #expect(held.hasPrefix("rtmp 127.0.0.1:"))
        // Opening a receiver: refused, naming the RTMP publisher (not "already has a GB28181 receiver").
        await #expect(throws: GBError.streamPublished("live/gb", holder: held)) {
            _ = try await server.gb.open(streamID: "live/gb", ssrc: 11, mode: .udp)
        }
        #expect("\(GBError.streamPublished("live/gb", holder: held))" == "stream live/gb is being published by \(held)")

        // A receiver opened before the RTMP publisher came: its first packet is refused the same way.
        _ = try await server.gb.open(streamID: "live/gb2", ssrc: try GBSSRC.parse("0100000012"), mode: .udp)
        let rtmp2 = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "gb2")
        let held2 = try #require(holder(server, "live/gb2"))
        let port = try #require(server.gb.sharedUDPPort)
        let device = try GB28181Tests.send(try await GBMedia.shared.files(.h264, audio: nil),
                                           ["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000012"])
        defer { device.terminate() }
        #expect(await GB28181Tests.wait { server.log.contains("refused: stream live/gb2 is already being published (by \(held2))") },
                "\(server.log.lines.suffix(5))")
        #expect(holder(server, "live/gb2") == held2)
        #expect(!rtmp.isClosed && !rtmp2.isClosed)
        await rtmp.close()
        await rtmp2.close()
        await server.stop()
    }

    @Test func gbTakesOverAtItsFirstPacketWhenNotRejecting() async throws {
        let server = try await TestServer.start(Self.takeover)
        let rtmp = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "gb")
        _ = try await server.gb.open(streamID: "live/gb", ssrc: try GBSSRC.parse("0100000013"), mode: .udp)
        #expect(holder(server, "live/gb")?.hasPrefix("rtmp ") == true, "the RTMP publisher stays until media arrives")
        let port = try #require(server.gb.sharedUDPPort)
        let device = try GB28181Tests.send(try await GBMedia.shared.files(.h264, audio: nil),
                                           ["--mode", "udp", "--port", "\(port)", "--ssrc", "0100000013"])
        defer { device.terminate() }
        #expect(await rtmp.waitClosed(seconds: 5), "the RTMP publisher is replaced: \(server.log.lines.suffix(5))")
        #expect(await server.waitPlayable("live/gb"), "device: \(device.stderr)")
        #expect(holder(server, "live/gb")?.hasPrefix("gb28181 ") == true)
        await server.stop()
    }

    @Test func gbOpenOnAnotherProtocolsIDNeedsCrossProtocolTakeover() async throws {
        let server = try await TestServer.start("\"source\": {\"reject_duplicate_publish\": false}")
        let rtmp = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "gb")
        let held = try #require(holder(server, "live/gb"))
        await #expect(throws: GBError.streamPublished("live/gb", holder: held)) {
            _ = try await server.gb.open(streamID: "live/gb", ssrc: 11, mode: .udp)
        }
        await rtmp.close()
        await server.stop()
    }

    // MARK: JT/T 1078

    func jtSend(_ server: TestServer) async throws -> Task<Void, Never> {
        let media = try await JTMedia.shared.load(video: .h264, audio: false)
        return JT1078Tests.send(media, JT1078SendOptions(version: .v2016, sim: "013900000001", channels: [1], loop: true),
                                port: server.jtPort)
    }

    /// A second terminal on a live channel: refused naming the holder, or it takes over.
    @Test(arguments: [true, false])
    func jtSecondTerminal(rejecting: Bool) async throws {
        let server = try await TestServer.start(rejecting ? "" : "\"source\": {\"reject_duplicate_publish\": false}")
        let first = try await jtSend(server)
        defer { first.cancel() }
        #expect(await server.waitPlayable("13900000001/1"))
        let held = try #require(holder(server, "13900000001/1"))
        let second = try await jtSend(server)
        defer { second.cancel() }
        if rejecting {
            #expect(await GB28181Tests.wait { server.log.contains("refused: stream 13900000001/1 is already being published (by \(held))") },
                    "\(server.log.lines.suffix(5))")
            #expect(holder(server, "13900000001/1") == held)
        } else {
            #expect(await GB28181Tests.wait { server.log.contains("replaces the current publisher \(held)") },
                    "\(server.log.lines.suffix(5))")
            #expect(await GB28181Tests.wait { holder(server, "13900000001/1").map { $0 != held } ?? false })
        }
        await server.stop()
    }
}
