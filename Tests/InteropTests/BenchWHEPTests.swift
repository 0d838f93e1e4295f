import Foundation
import NIOCore
import RelayWebRTC
import Testing
@testable import RelayBenchKit

/// relay-bench's WHEP viewer: its offer and answer handling against RelayWebRTC's own SDP code,
/// then the built `relay-bench play --protocol whep` against the relay with a stamped camera.
@Suite(.serialized)
struct BenchWHEPTests {
    /// The offer is one the server's parser takes as a browser's: recvonly H.264 PT 102
    /// (packetization-mode 1, 42e01f, NACK and PLI) and PCMA/PCMU, BUNDLE, DTLS client.
    @Test func offerParsesAsAWebRTCOffer() throws {
        let ice = ICECredentials.random()
        let certificate = try DTLSCertificate.generate()
        let offer = try WebRTCOffer(parsing: WHEPOffer.render(ice: ice, fingerprint: certificate.fingerprint, sessionID: 7))
        #expect(offer.ice == ice && offer.fingerprint == certificate.fingerprint && offer.setup == "active")
        #expect(offer.bundle == ["0", "1"] && offer.media.map(\.mid) == ["0", "1"])
        let video = try #require(offer.media.first)
        #expect(video.kind == "video" && video.direction == .recvonly && video.rtcpMux)
        let h264 = try #require(video.codecs.first)
        #expect(h264.payloadType == 102 && h264.name == "H264" && h264.clockRate == 90000)
        #expect(h264.fmtp["packetization-mode"] == "1" && h264.fmtp["profile-level-id"] == "42e01f")
        #expect(h264.feedback.contains("nack") && h264.feedback.contains("nack pli"))
        #expect(offer.media[1].codecs.map(\.name) == ["PCMA", "PCMU"])
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: "4d001f")?.payloadType == 102)
    }

    /// The server's rendered answer gives the viewer the credentials, fingerprint, payload types
    /// and the candidate to send to; a rejected audio line gives no audio type.
    @Test func answerGivesCandidateAndPayloadTypes() throws {
        let fingerprint = try DTLSCertificate.generate().fingerprint
        let offer = try WebRTCOffer(parsing: WHEPOffer.render(ice: .random(), fingerprint: fingerprint, sessionID: 1))
        let server = ICECredentials.random()
        let candidate = try SocketAddress(ipAddress: "127.0.0.1", port: 8189)
        let render = { (audio: WebRTCOffer.Codec?) in
            WebRTCAnswer.render(offer: offer, media: [
                .init(mid: "0", codec: offer.media[0].codecs[0], direction: .sendonly, ssrc: 11),
                .init(mid: "1", codec: audio, direction: .sendonly, ssrc: audio == nil ? nil : 12),
            ], ice: server, fingerprint: fingerprint, candidates: [candidate], sessionID: 5, cname: "c", streamLabel: "s")
        }
        let full = try WHEPAnswer(parsing: render(offer.media[1].codecs[1]))
        #expect(full.ice == server && full.fingerprint == fingerprint && full.candidate == candidate)
        #expect(full.videoPayloadType == 102 && full.audioPayloadType == 0)
        let videoOnly = try WHEPAnswer(parsing: render(nil))
        #expect(videoOnly.videoPayloadType == 102 && videoOnly.audioPayloadType == nil)
        #expect(throws: (any Error).self) { try WHEPAnswer(parsing: "v=0\r\n") }
    }

    @Test func extendedSequenceCountsWraps() {
        var s = ExtendedSequence()
        #expect(s.value == nil)
        for n: UInt16 in [65534, 65535, 0, 65535, 1, 1] { s.update(n) }
        #expect(s.value == UInt32(0x1_0001))
    }

    /// Three WHEP viewers of a stamped camera stream (H.264 + G.711) for 3 s: every one gets
    /// frames and bytes, nothing fails, and the capture stamps give glass-to-glass latency.
    @Test func benchPlaysWHEPWithLatency() async throws {
        let server = try await TestServer.start()
        let camera = try ProductBinary.camera.start([
            "--input", try await CameraMedia.shared.h264(), "--audio", try await CameraMedia.shared.alaw(),
            "--url", server.rtmpURL("live/bench"), "--loop", "--stamp", "--quiet",
        ])
        defer { camera.terminate() }
        #expect(await server.waitPlayable("live/bench"), "camera did not publish: \(camera.stderr)")
        let bench = try ProductBinary.bench.start([
            "play", "--url", "http://127.0.0.1:\(server.httpPort)/live/bench", "--protocol", "whep",
            "--players", "3", "--duration", "3", "--latency",
        ])
        defer { bench.terminate() }
        let status = await bench.wait(seconds: 40)
        let line = bench.stdout.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        print("relay-bench play --protocol whep: \(line)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                  "no JSON line: \(bench.stdout) \(bench.stderr)")
        #expect(status == 0, "relay-bench: \(bench.stdout) \(bench.stderr)")
        #expect(report["failures"] as? Int == 0, "\(line)")
        #expect((report["min_player_mbps"] as? Double ?? 0) > 0, "every player got bytes: \(line)")
        #expect((report["video_frames"] as? Int ?? 0) >= 3 * 50, "every player got frames: \(line)")
        #expect((report["g2g_frames"] as? Int ?? 0) >= 3 * 50, "stamped frames: \(line)")
        let p50 = report["g2g_p50_ms"] as? Double
        #expect(p50 != nil && p50! >= 0 && p50! < 500, "glass-to-glass p50: \(line)")
        #expect(report["ttff_after_answer_p50_ms"] is Double, "\(line)")
        #expect(report["srtp_dropped"] as? Int == 0, "\(line)")
        await server.stop()
    }

    /// A lossy link: the player drops 5 % of the video packets on arrival and NACKs them; the
    /// relay sends them again from the viewer's history, so frames keep coming whole.
    @Test func nacksAreAnsweredOnALossyLink() async throws {
        let server = try await TestServer.start()
        let camera = try ProductBinary.camera.start([
            "--input", try await CameraMedia.shared.h264(), "--url", server.rtmpURL("live/lossy"), "--loop", "--quiet",
        ])
        defer { camera.terminate() }
        #expect(await server.waitPlayable("live/lossy"), "camera did not publish: \(camera.stderr)")
        let bench = try ProductBinary.bench.start([
            "play", "--url", "http://127.0.0.1:\(server.httpPort)/live/lossy", "--protocol", "whep",
            "--players", "2", "--duration", "4", "--drop-video-percent", "5",
        ])
        defer { bench.terminate() }
        let status = await bench.wait(seconds: 40)
        let line = bench.stdout.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        print("relay-bench play --protocol whep --drop-video-percent 5: \(line)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                  "no JSON line: \(bench.stdout) \(bench.stderr)")
        #expect(status == 0, "relay-bench: \(bench.stdout) \(bench.stderr)")
        let injected = report["injected_losses"] as? Int ?? 0
        let repaired = report["retransmissions_received"] as? Int ?? 0
        #expect(injected > 20, "losses injected: \(line)")
        #expect(repaired * 10 >= injected * 9, "most dropped packets came again after a NACK: \(line)")
        #expect((report["nacked_packets"] as? Int ?? 0) * 10 >= injected * 9, "the player asked again for them: \(line)")
        let frames = report["video_frames"] as? Int ?? 0
        #expect(frames >= 2 * 60, "\(line)")
        #expect((report["dropped_frames"] as? Int ?? 0) * 20 <= frames, "at most 5 % of the frames broken: \(line)")
        await server.stop()
    }
}
