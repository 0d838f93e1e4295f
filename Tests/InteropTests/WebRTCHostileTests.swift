import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayRTP
import RelayWebRTC
import Testing

/// The WebRTC UDP port from the outside, by a peer that is not a browser: garbage, STUN for
/// sessions that do not exist or with the wrong password, DTLS and RTP from addresses that never
/// passed a check. None of it gets an answer (the port reflects nothing to strangers), none of it
/// hurts a real session's checks, and the server keeps answering.
@Suite(.serialized)
struct WebRTCHostileTests {
    /// A recvonly H.264 offer as a browser would send it (the fingerprint is not checked before DTLS).
    static let offer = """
    v=0\r
    o=- 1 2 IN IP4 127.0.0.1\r
    s=-\r
    t=0 0\r
    a=group:BUNDLE 0\r
    m=video 9 UDP/TLS/RTP/SAVPF 102\r
    c=IN IP4 0.0.0.0\r
    a=ice-ufrag:abcd\r
    a=ice-pwd:0123456789abcdefghijklmn\r
    a=fingerprint:sha-256 6D:D2:6E:55:01:50:85:DD:C7:8E:3C:AD:0A:7A:3D:52:7E:02:44:5F:B2:BB:8E:76:83:1A:86:79:3E:45:91:A0\r
    a=setup:actpass\r
    a=mid:0\r
    a=recvonly\r
    a=rtcp-mux\r
    a=rtpmap:102 H264/90000\r
    a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r
    a=rtcp-fb:102 nack\r
    a=rtcp-fb:102 nack pli\r

    """

    /// A UDP socket that keeps what it receives.
    final class Peer: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let received = NIOLockedValueBox<[ByteBuffer]>([])
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let datagram = unwrapInboundIn(data).data
            received.withLockedValue { $0.append(datagram) }
        }
    }

    static func socket(_ peer: Peer) async throws -> any Channel {
        try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(peer) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    static func send(_ channel: any Channel, _ bytes: ByteBuffer, to port: Int) async throws {
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: bytes))
    }

    @Test func strangersGetNoAnswerAndARealCheckStillDoes() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/hostile-webrtc")
        defer { publisher.terminate() }
        let port = server.webrtcPort
        #expect(port > 0)
        let peer = Peer()
        let socket = try await Self.socket(peer)
        var rng = SystemRandomNumberGenerator()
        // 1. Garbage of every first byte, DTLS-looking records and SRTP-looking packets from an
        //    address that never passed a check.
        for i in 0..<600 {
            var bytes = (0..<Int.random(in: 1...1400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bytes[0] = UInt8(truncatingIfNeeded: i)
            try await Self.send(socket, ByteBuffer(bytes: bytes), to: port)
        }
        // 2. STUN binding requests for a ufrag no session has, and truncated ones.
        for i in 0..<50 {
            let request = STUN.bindingRequest(transactionID: (0..<12).map { _ in UInt8.random(in: 0...255) },
                                              username: "nosuch\(i):abcd", password: "0123456789abcdefghijklmn",
                                              priority: 1, tieBreaker: 1, useCandidate: true)
            try await Self.send(socket, request, to: port)
            try await Self.send(socket, request.getSlice(at: 0, length: 20 + i % 40) ?? request, to: port)
        }
        // 3. A real session's ufrag with the wrong password: no answer either.
        let http = AdminHTTP(port: server.httpPort)
        let answer = try await http.request("POST", "/live/hostile-webrtc/whep", body: Array(Self.offer.utf8),
                                            headers: ["Content-Type": "application/sdp"])
        #expect(answer.status == 201, "\(answer.status) \(answer.text)")
        let sdp = try SessionDescription(parsing: answer.text)
        let ufrag = try #require(sdp.media.first?.attribute("ice-ufrag") ?? sdp.attributes.first { $0.name == "ice-ufrag" }?.value)
        let password = try #require(sdp.media.first?.attribute("ice-pwd") ?? sdp.attributes.first { $0.name == "ice-pwd" }?.value)
        let wrong = STUN.bindingRequest(transactionID: Array(repeating: 7, count: 12), username: "\(ufrag):abcd",
                                        password: "not-the-password-at-all!", priority: 1, tieBreaker: 1, useCandidate: true)
        try await Self.send(socket, wrong, to: port)
        try await Task.sleep(nanoseconds: 400_000_000)
        #expect(peer.received.withLockedValue { $0.count } == 0, "the port answered a stranger")
        // 4. The right password: a success answer that names our address.
        let right = STUN.bindingRequest(transactionID: Array(repeating: 9, count: 12), username: "\(ufrag):abcd",
                                        password: password, priority: 1, tieBreaker: 1, useCandidate: true)
        try await Self.send(socket, right, to: port)
        var reply: STUNMessage?
        for _ in 0..<100 where reply == nil {
            try await Task.sleep(nanoseconds: 20_000_000)
            reply = peer.received.withLockedValue { $0.first }.flatMap { try? STUNMessage(parsing: $0) }
        }
        let success = try #require(reply, "no answer to a valid check")
        #expect(success.messageClass == .success && success.transactionID == Array(repeating: 9, count: 12))
        #expect(success.xorMappedAddress?.port == socket.localAddress?.port)
        #expect(success.verifyIntegrity(password: password))
        #expect(await server.log.eventually("WebRTC port: dropped a datagram"))
        // The admin API and the player's port still answer.
        #expect(try await AdminHTTP(port: server.adminPort).get("/api/v1/server").status == 200)
        try await socket.close()
        await server.stop()
    }

    @Test func badOffersAreRefusedWithClearAnswers() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/offers-webrtc")
        defer { publisher.terminate() }
        let http = AdminHTTP(port: server.httpPort)
        func post(_ path: String, _ body: String, type: String = "application/sdp") async throws -> AdminHTTP.Response {
            try await http.request("POST", path, body: Array(body.utf8), headers: ["Content-Type": type])
        }
        #expect(try await post("/live/offers-webrtc/whep", "v=0\r\n").status == 400)
        #expect(try await post("/live/offers-webrtc/whep", Self.offer, type: "text/plain").status == 415)
        #expect(try await post("/live/nosuch/whep", Self.offer).status == 404)
        let audioOnly = Self.offer.replacingOccurrences(of: "m=video 9 UDP/TLS/RTP/SAVPF 102", with: "m=audio 9 UDP/TLS/RTP/SAVPF 102")
        #expect(try await post("/live/offers-webrtc/whep", audioOnly).status == 406, "an AAC stream has no audio for WebRTC and the offer no video")
        let preflight = try await http.request("OPTIONS", "/live/offers-webrtc/whep")
        #expect(preflight.status == 204 && preflight.headers["access-control-allow-methods"]?.contains("POST") == true, "\(preflight.headers)")
        #expect(try await http.request("DELETE", "/live/offers-webrtc/whep/0123456789abcdef0123456789abcdef").status == 404)
        #expect(try await http.request("PATCH", "/live/offers-webrtc/whep/0123456789abcdef0123456789abcdef").status == 405)
        let created = try await post("/live/offers-webrtc/whep", Self.offer)
        #expect(created.status == 201)
        let location = try #require(created.headers["location"])
        #expect(created.headers["access-control-expose-headers"] == "Location")
        #expect(try await http.request("DELETE", location).status == 200)
        #expect(try await http.request("DELETE", location).status == 404, "gone after DELETE")
        await server.stop()
    }
}
