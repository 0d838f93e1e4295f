import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayGB28181
import RelayJT1078
import Testing

/// `source.publisher_grace_ms` for devices: a JT/T 1078 terminal or a GB28181 camera whose TCP
/// connection drops and comes back in time keeps its players, with monotonic timestamps.
@Suite(.serialized)
struct PublisherGraceDeviceTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    @Test func jt1078PlayersContinueWhenTheTerminalReconnects() async throws {
        let server = try await TestServer.start("\"source\": {\"publisher_grace_ms\": 5000}")
        let media = try await JTMedia.shared.load(video: .h264, audio: true)
        let options = JT1078SendOptions(version: .v2016, sim: "013912340001", channels: [1], loop: true)
        let first = JT1078Tests.send(media, options, port: server.jtPort)
        defer { first.cancel() }
        let stream = "13912340001/1"
        #expect(await server.waitPlayable(stream))
        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/\(stream).flv",
                                                  group: Self.group, keepTimestamps: true)
        _ = await flv.wait(timeout: .seconds(5)) { $0.videoFrames >= 30 }

        first.cancel()  // the sender closes its connection: the terminal is gone, without a word
        let before = try await Self.expectWaiting(server, flv)

        let second = JT1078Tests.send(media, options, port: server.jtPort)
        defer { second.cancel() }
        await Self.expectContinued(server, flv, framesBefore: before)
        await flv.close()
        await server.stop()
    }

    @Test func gb28181PlayersContinueWhenTheCameraIsInvitedAgain() async throws {
        let server = try await TestServer.start("\"source\": {\"publisher_grace_ms\": 5000}")
        let media = try await GBMedia.shared.files(.h264, audio: .g711a)
        let ssrc = try GBSSRC.parse("0100000077")
        // A receiver from the API serves one session: when the camera's connection drops, the
        // operator's SIP side invites it again on a new port, within the grace.
        func invite() async throws -> ChildProcess {
            var port: Int?
            let deadline = Date().addingTimeInterval(3)
            while port == nil {
                do {
                    port = try await server.gb.open(streamID: "gb/grace", ssrc: ssrc, mode: .tcpPassive, port: .fromRange).info.port
                } catch where Date() < deadline {
                    try await Task.sleep(nanoseconds: 50_000_000)  // the old receiver is still being closed
                }
            }
            return try GB28181Tests.send(media, ["--mode", "tcp-passive", "--port", "\(try #require(port))", "--ssrc", "0100000077"])
        }
        // Only a source whose publisher dropped may be invited again: a live one refuses.
        let rtmp = try server.publish(try await TestMedia.shared.h264AACFLV(), stream: "live/taken")
        defer { rtmp.terminate() }
        #expect(await server.waitPlayable("live/taken"))
        // The refusal names the real holder (the RTMP publisher), not a GB28181 receiver.
        let held = try #require(server.server.context.registry.source("live/taken")).holder
        #expect(held.hasPrefix("rtmp 127.0.0.1:"))
        await #expect(throws: GBError.streamPublished("live/taken", holder: held)) {
            _ = try await server.gb.open(streamID: "live/taken", ssrc: 5, mode: .tcpPassive, port: .fromRange)
        }

        let first = try await invite()
        defer { first.terminate() }
        #expect(await server.waitPlayable("gb/grace"), "device: \(first.stderr)")
        let flv = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/gb/grace.flv",
                                                  group: Self.group, keepTimestamps: true)
        _ = await flv.wait(timeout: .seconds(5)) { $0.videoFrames >= 30 }

        first.signal(SIGKILL)
        _ = await first.wait(seconds: 5)
        let before = try await Self.expectWaiting(server, flv)

        let second = try await invite()
        defer { second.terminate() }
        await Self.expectContinued(server, flv, framesBefore: before)
        await flv.close()
        await server.stop()
    }

    /// Shortly after the publisher dropped: the grace began and the player is still there.
    /// Returns the frames it had then.
    static func expectWaiting(_ server: TestServer, _ flv: HTTPFLVPlayer) async throws -> Int {
        try await Task.sleep(nanoseconds: 700_000_000)
        #expect(await server.log.eventually("players wait up to 5000 ms"), "\(server.log.lines.suffix(10))")
        #expect(!flv.stats.closed, "the player was ended during the grace")
        return flv.stats.videoFrames
    }

    /// After the publisher came back: the same player goes on, 40 more frames, time never going back.
    static func expectContinued(_ server: TestServer, _ flv: HTTPFLVPlayer, framesBefore: Int) async {
        let stats = await flv.wait(timeout: .seconds(10)) { $0.videoFrames >= framesBefore + 40 }
        #expect(await server.log.eventually("publisher came back: 1 players continue"), "\(server.log.lines.suffix(10))")
        #expect(!stats.closed && stats.error == nil, "player: \(stats.error ?? "closed")")
        #expect(stats.videoFrames >= framesBefore + 40, "\(stats.videoFrames - framesBefore) frames after the reconnect")
        let ts = stats.videoTimestamps
        let back = zip(ts, ts.dropFirst()).first { $1 < $0 }
        #expect(back == nil, "video timestamps went back: \(String(describing: back))")
    }
}
