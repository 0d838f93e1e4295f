import Logging
import NIOCore
import NIOEmbedded
import NIOTestUtils
import RelayCore
import RelayRTP
@testable import RelayRTSP
import RelayTestSupport
import Testing

/// What a pull client session told its pull.
final class CollectedUpstreamEvents: UpstreamEvents {
    var events: [MediaEvent] = []
    var ended: [String] = []
    func upstream(_ event: MediaEvent) { events.append(event) }
    func upstreamEnded(_ reason: String) { ended.append(reason) }

    var packets: [AVPacket] { events.compactMap { if case .packet(let p) = $0 { p } else { nil } } }
}

/// The pull client's conversation on the in-memory channel: the camera's side is played by the test.
final class RTSPClientHarness {
    let channel = EmbeddedChannel()
    let events = CollectedUpstreamEvents()
    let handler: RTSPPullHandler
    /// How `connect` ended (set by the promise's callback, on the embedded loop).
    final class Outcome: @unchecked Sendable { var result: Result<Void, any Error>? }
    let outcome = Outcome()
    var result: Result<Void, any Error>? { outcome.result }
    private var requests = ByteBuffer()
    private var decoder = RTSPFrameDecoder()
    /// Interleaved frames the client wrote (its RTCP receiver reports).
    var interleavedOut: [(channel: UInt8, packet: ByteBuffer)] = []

    init(url: String = "rtsp://127.0.0.1:8554/cam", receive: TimeAmount = .seconds(5)) throws {
        let started = channel.eventLoop.makePromise(of: Void.self)
        var logger = Logger(label: "rtsp-client-test")
        logger.logLevel = .error
        handler = RTSPPullHandler(target: try #require(UpstreamURL(url)), transport: .tcp,
                                  timeouts: UpstreamTimeouts(connect: .seconds(5), receive: receive),
                                  events: events, started: started, logger: logger)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPFrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(handler)
        started.futureResult.whenComplete { [outcome] in outcome.result = $0 }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8554)).wait()
    }

    /// The next request the client wrote (nil: none).
    func request() throws -> RTSPRequest? {
        while var out = try channel.readOutbound(as: ByteBuffer.self) { requests.writeBuffer(&out) }
        while let frame = try decoder.decode(buffer: &requests) {
            if case .request(let r) = frame { return r }
            if case .interleaved(let channel, let packet) = frame { interleavedOut.append((channel, packet)) }
        }
        return nil
    }

    /// Answers the client's request with `status`, CSeq echoed.
    func answer(_ request: RTSPRequest?, _ status: Int, _ headers: [(String, String)] = [], body: String = "") {
        var text = "RTSP/1.0 \(status) X\r\nCSeq: \(request?.cseq ?? "0")\r\n"
        for (n, v) in headers { text += "\(n): \(v)\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.utf8.count)\r\n" }
        send(text + "\r\n" + body)
    }

    func send(_ text: String) { send(ByteBuffer(string: text)) }
    func send(_ bytes: ByteBuffer) { _ = try? channel.writeInbound(bytes) }

    var failure: String? {
        if case .failure(let e) = result { return "\(e)" }
        return nil
    }
    var failureStatus: Int? {
        if case .failure(let e as RTSPPullError) = result { return e.status }
        return nil
    }
}

@Suite struct RTSPClientTests {
    static let sdp = """
        v=0\r
        o=- 1 1 IN IP4 127.0.0.1\r
        s=cam\r
        t=0 0\r
        a=control:*\r
        m=video 0 RTP/AVP 96\r
        a=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1;sprop-parameter-sets=\(base64(SDPTests.sps264)),\(base64(SDPTests.pps264))\r
        a=control:stream=0\r
        m=audio 0 RTP/AVP 8\r
        a=rtpmap:8 PCMA/8000\r
        a=control:stream=1\r
        m=application 0 RTP/AVP 107\r
        a=rtpmap:107 vnd.onvif.metadata/90000\r

        """

    static func base64(_ b: ByteBuffer) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let bytes = Array(b.readableBytesView)
        var out = ""
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = 0
            for k in 0..<3 { v = v << 8 | (k < n ? Int(bytes[i + k]) : 0) }
            for k in 0..<4 { out.append(k <= n ? table[(v >> (18 - 6 * k)) & 63] : "=") }
            i += 3
        }
        return out
    }

    /// An RTP packet (version 2, marker set).
    static func rtp(pt: UInt8, seq: UInt16, ts: UInt32, payload: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt8(0x80))
        b.writeInteger(0x80 | pt)
        b.writeInteger(seq)
        b.writeInteger(ts)
        b.writeInteger(UInt32(0x1234_5678) &+ UInt32(pt))
        b.writeBytes(payload)
        return b
    }

    static func interleaved(_ channel: UInt8, _ packet: ByteBuffer) -> ByteBuffer {
        var b = ByteBuffer()
        Interleaved.write(channel: channel, into: &b) { out in out.writeImmutableBuffer(packet) }
        return b
    }

    @Test func digestDescribeSetupPlayThenTracksStreamsAndFrames() throws {
        let h = try RTSPClientHarness(url: "rtsp://admin:se%40cret@127.0.0.1:8554/cam", receive: .seconds(60))
        let options = try #require(try h.request())
        #expect(options.method == "OPTIONS" && options.uri == "rtsp://127.0.0.1:8554/cam")
        #expect(options.headers["Authorization"] == nil)
        h.answer(options, 200, [("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER")])
        let describe = try #require(try h.request())
        #expect(describe.method == "DESCRIBE")
        h.answer(describe, 401, [("WWW-Authenticate", #"Digest realm="cam", nonce="abc", qop="auth""#),
                                 ("WWW-Authenticate", #"Basic realm="cam""#)])
        let again = try #require(try h.request())
        #expect(again.method == "DESCRIBE" && again.cseq != describe.cseq)
        let authorization = try #require(again.headers["Authorization"])
        #expect(authorization.hasPrefix("Digest username=\"admin\"") && authorization.contains("nc=00000001"))
        h.answer(again, 200, [("Content-Base", "rtsp://127.0.0.1:8554/cam/"), ("Content-Type", "application/sdp")], body: Self.sdp)

        let setupVideo = try #require(try h.request())
        #expect(setupVideo.method == "SETUP" && setupVideo.uri == "rtsp://127.0.0.1:8554/cam/stream=0")
        #expect(setupVideo.headers["Transport"] == "RTP/AVP/TCP;unicast;interleaved=0-1")
        #expect(setupVideo.headers["Authorization"]?.contains("nc=00000002") == true)
        #expect(setupVideo.headers["Session"] == nil)
        h.answer(setupVideo, 200, [("Session", "S1;timeout=30"), ("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5;ssrc=1")])
        let setupAudio = try #require(try h.request())
        #expect(setupAudio.uri == "rtsp://127.0.0.1:8554/cam/stream=1" && setupAudio.headers["Session"] == "S1")
        h.answer(setupAudio, 200, [("Session", "S1;timeout=30"), ("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3")])
        let play = try #require(try h.request())
        #expect(play.method == "PLAY" && play.uri == "rtsp://127.0.0.1:8554/cam/" && play.headers["Session"] == "S1")
        #expect(h.result == nil)
        h.answer(play, 200, [("Session", "S1")])
        guard case .success = h.result else { Issue.record("PLAY 200 did not start the pull: \(String(describing: h.result))"); return }

        guard case .tracks(video: true, audio: true)? = h.events.events.first else {
            Issue.record("first event \(String(describing: h.events.events.first))"); return
        }
        // The camera's channels (4 for video, 2 for audio), not the ones asked for, carry the media.
        for i in 0..<3 {
            h.send(Self.interleaved(4, Self.rtp(pt: 96, seq: UInt16(i), ts: UInt32(i * 3600), payload: [0x65, 0x88, 0x84, UInt8(i)])))
            h.send(Self.interleaved(2, Self.rtp(pt: 8, seq: UInt16(i), ts: UInt32(i * 160), payload: Array(repeating: 0xD5, count: 160))))
        }
        h.send(Self.interleaved(0, Self.rtp(pt: 96, seq: 9, ts: 9, payload: [0x65])))  // a channel nobody set up
        let video = h.events.packets.filter { $0.codec == .h264 }
        let audio = h.events.packets.filter { $0.codec == .g711a }
        #expect(video.count >= 2 && audio.count >= 2, "\(h.events.events)")
        #expect(h.events.events.contains { if case .stream(let s) = $0 { s.codec == .h264 } else { false } })

        // Keep-alive at half the session timeout, by GET_PARAMETER since the camera lists it.
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(15))
        let keepAlive = try #require(try h.request())
        #expect(keepAlive.method == "GET_PARAMETER" && keepAlive.headers["Session"] == "S1")
        // A receiver report every 5 s per track, on the camera's RTCP channels, about the camera's SSRCs.
        let reports = h.interleavedOut.flatMap { frame in
            RTCPReport.parse(frame.packet).reports.map { (frame.channel, $0) }
        }
        #expect(reports.filter { $0.0 == 5 }.count >= 2 && reports.filter { $0.0 == 3 }.count >= 2, "\(h.interleavedOut.map(\.channel))")
        #expect(reports.allSatisfy { $0.1.sender == nil })
        #expect(reports.first { $0.0 == 5 }?.1.blocks.map(\.ssrc) == [0x1234_5678 &+ 96])
        #expect(reports.first { $0.0 == 3 }?.1.blocks.map(\.ssrc) == [0x1234_5678 &+ 8])
        #expect(reports.first { $0.0 == 5 }?.1.blocks.first?.highestSequence == 2)
        h.answer(keepAlive, 200)
        #expect(h.channel.isActive)

        // close(): TEARDOWN, closed, upstreamEnded once.
        h.handler.stop()
        let teardown = try #require(try h.request())
        #expect(teardown.method == "TEARDOWN")
        #expect(!h.channel.isActive)
        #expect(h.events.ended == ["closed"])
    }

    @Test func noRTPForTheReceiveTimeoutEndsThePull() throws {
        let h = try RTSPClientHarness(receive: .seconds(2))
        try playToPLAY(h)
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        #expect(!h.channel.isActive)
        #expect(h.events.ended.count == 1 && h.events.ended.first?.contains("no RTP") == true)
    }

    @Test func cameraClosingMidStreamEndsThePull() throws {
        let h = try RTSPClientHarness()
        try playToPLAY(h)
        h.channel.pipeline.fireChannelInactive()
        #expect(h.events.ended == ["the camera closed the connection"])
    }

    /// OPTIONS, DESCRIBE, one SETUP, PLAY answered plainly.
    func playToPLAY(_ h: RTSPClientHarness) throws {
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 200, body: Self.sdp)
        h.answer(try h.request(), 200, [("Session", "S")])
        h.answer(try h.request(), 200, [("Session", "S")])
        h.answer(try h.request(), 200)
        guard case .success = h.result else { Issue.record("not playing: \(String(describing: h.result))"); return }
    }

    @Test func refusalsFailTheConnectWithTheirStatus() throws {
        // No credentials in the URL.
        var h = try RTSPClientHarness()
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 401, [("WWW-Authenticate", #"Digest realm="r", nonce="n""#)])
        #expect(h.failureStatus == 401 && h.failure?.contains("needs credentials") == true)
        #expect(!h.channel.isActive)
        #expect(h.events.ended.isEmpty && h.events.events.isEmpty)

        // Wrong credentials: answered once, refused again.
        h = try RTSPClientHarness(url: "rtsp://u:wrong@127.0.0.1/cam")
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 401, [("WWW-Authenticate", #"Digest realm="r", nonce="n""#)])
        h.answer(try h.request(), 401, [("WWW-Authenticate", #"Digest realm="r", nonce="n""#)])
        #expect(h.failureStatus == 401 && h.failure?.contains("refused") == true)

        h = try RTSPClientHarness()
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 404)
        #expect(h.failureStatus == 404 && h.failure?.contains("DESCRIBE answered 404") == true)

        h = try RTSPClientHarness()
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 200, body: "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n")
        #expect(h.failure?.contains("no ingestable track") == true)

        h = try RTSPClientHarness()
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 200, [("Content-Base", "rtsp://c/a b\r")], body: Self.sdp)
        #expect(h.failure?.contains("control URL") == true)

        h = try RTSPClientHarness()
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 200, body: Self.sdp)
        h.answer(try h.request(), 200)  // SETUP without a Session
        #expect(h.failure?.contains("without a Session") == true)
    }

    @Test func aRedirectEndsThisConnectionWithItsLocation() throws {
        for status in [301, 302, 303, 307, 308] {
            let h = try RTSPClientHarness()
            h.answer(try h.request(), 200)
            h.answer(try h.request(), status, [("Location", "rtsp://10.0.0.9:8554/real")])
            guard case .failure(let error as RTSPPullError)? = h.result else {
                Issue.record("\(status): \(String(describing: h.result))")
                continue
            }
            #expect(error.redirect == "rtsp://10.0.0.9:8554/real" && error.status == status)
            #expect(!h.channel.isActive && h.events.ended.isEmpty)
        }
        // Without a Location, or after SETUP, a 3xx is a refusal.
        var h = try RTSPClientHarness()
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 302)
        #expect(h.failure?.contains("without a Location") == true && h.failureStatus == 302)
        h = try RTSPClientHarness()
        h.answer(try h.request(), 200)
        h.answer(try h.request(), 200, body: Self.sdp)
        h.answer(try h.request(), 302, [("Location", "rtsp://10.0.0.9/x")])
        guard case .failure(let error as RTSPPullError)? = h.result else { Issue.record("SETUP 302 did not fail"); return }
        #expect(error.redirect == nil && error.status == 302)
    }

    @Test func whereARedirectLeads() throws {
        let from = try #require(UpstreamURL("rtsp://u:p@cam.local:8554/live"))
        // A path: the same server, with the credentials.
        let path = try #require(RTSPPullClient.redirected(to: "/other?x=1", from: from))
        #expect(path.host == "cam.local" && path.port == 8554 && path.path == "/other?x=1" && path.user == "u" && path.password == "p")
        // The same host and port: the credentials go along.
        let same = try #require(RTSPPullClient.redirected(to: "rtsp://cam.local:8554/b", from: from))
        #expect(same.user == "u" && same.password == "p" && same.path == "/b")
        // Another port or host: not theirs; unless the Location carries its own.
        #expect(RTSPPullClient.redirected(to: "rtsp://cam.local:554/b", from: from)?.user == nil)
        #expect(RTSPPullClient.redirected(to: "rtsp://evil.example:8554/b", from: from)?.user == nil)
        #expect(RTSPPullClient.redirected(to: "rtsp://v:w@other/b", from: from)?.password == "w")
        // Not RTSP, or not a URL.
        #expect(RTSPPullClient.redirected(to: "http://cam.local/b", from: from) == nil)
        #expect(RTSPPullClient.redirected(to: "elsewhere", from: from) == nil)
    }

    @Test func aHostileServerEndsTheSessionWithAnError() throws {
        var bigHead = "RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Pad: "
        bigHead += String(repeating: "a", count: 1 << 20)
        let cases: [(String, String)] = [
            ("\u{1}\u{2}garbage that is no RTSP\r\n\r\n", "malformed"),
            (bigHead, "exceed"),
            ("RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 1000000000\r\n\r\n", "Content-Length 1000000000"),
            ("RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n", "Content-Length"),
            ("RTSP/1.0 200 OK\r\nServer: x\r\n\r\n", "without a CSeq"),
            ("RTSP/1.0 200 OK\r\nCSeq: 77\r\n\r\n", "CSeq 77"),
            ("RTSP/1.0 20x OK\r\nCSeq: 1\r\n\r\n", "malformed"),
        ]
        for (reply, expected) in cases {
            let h = try RTSPClientHarness()
            _ = try h.request()
            // In drips and in one piece alike.
            h.send(reply)
            #expect(h.failure?.contains(expected) == true, "\(expected): \(h.failure ?? "no failure")")
            #expect(!h.channel.isActive)
        }
    }

    /// Valid answers, mutated (bytes flipped, cut, repeated), at every step of the conversation: the session
    /// ends or goes on, and nothing traps.
    @Test func mutatedCameraAnswersNeverTrap() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
            return Int(truncatingIfNeeded: seed >> 1)
        }
        var ended = 0
        for _ in 0..<300 {
            let h = try RTSPClientHarness(url: "rtsp://u:p@127.0.0.1/cam")
            let answers: [(Int, [(String, String)], String)] = [
                (200, [("Public", "GET_PARAMETER")], ""),
                (401, [("WWW-Authenticate", #"Digest realm="r", nonce="n", qop="auth""#)], ""),
                (200, [("Content-Base", "rtsp://127.0.0.1/cam/")], Self.sdp),
                (200, [("Session", "S;timeout=20"), ("Transport", "RTP/AVP/TCP;interleaved=0-1")], ""),
                (200, [("Session", "S"), ("Transport", "RTP/AVP/TCP;interleaved=2-3")], ""),
                (200, [("Session", "S")], ""),
            ]
            for (status, headers, body) in answers {
                let request = try h.request()
                var text = "RTSP/1.0 \(status) X\r\nCSeq: \(request?.cseq ?? "1")\r\n"
                for (n, v) in headers { text += "\(n): \(v)\r\n" }
                text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
                var bytes = Array(text.utf8)
                for _ in 0..<(next() % 4) where !bytes.isEmpty {
                    let at = next() % bytes.count
                    switch next() % 3 {
                    case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                    case 1: bytes.removeSubrange(at...)
                    default: bytes.insert(contentsOf: bytes[at...].prefix(next() % 64), at: at)
                    }
                }
                h.send(ByteBuffer(bytes: bytes))
                if !h.channel.isActive { break }
            }
            for i in 0..<(next() % 20) {
                var payload = (0..<(next() % 40)).map { _ in UInt8(truncatingIfNeeded: next()) }
                if i % 2 == 0, payload.count > 1 { payload[0] = 0x80; payload[1] = 96 }
                h.send(Self.interleaved(UInt8(next() % 4), ByteBuffer(bytes: payload)))
            }
            h.channel.embeddedEventLoop.advanceTime(by: .seconds(30))
            if !h.channel.isActive { ended += 1 }
            _ = try? h.channel.finish()
        }
        #expect(ended > 0)
    }

    @Test func setupAnswersTransportAndSession() {
        let tcp = RTSPSetupReply(session: "12345678;timeout=45", transport: "RTP/AVP/TCP;unicast;interleaved=6-7;ssrc=ABCD;mode=\"PLAY\"")
        #expect(tcp?.session == "12345678" && tcp?.timeout == 45 && tcp?.interleaved?.rtp == 6 && tcp?.interleaved?.rtcp == 7)
        let udp = RTSPSetupReply(session: " abc ", transport: "RTP/AVP;unicast;client_port=50000-50001;server_port=6970-6971;source=\"10.0.0.5\"")
        #expect(udp?.session == "abc" && udp?.timeout == 60 && udp?.serverPorts?.rtp == 6970 && udp?.serverPorts?.rtcp == 6971)
        #expect(udp?.source == "10.0.0.5")
        #expect(RTSPSetupReply(session: "s", transport: "RTP/AVP;server_port=7000")?.serverPorts?.rtcp == 7001)
        #expect(RTSPSetupReply(session: nil, transport: "RTP/AVP") == nil)
        #expect(RTSPSetupReply(session: ";timeout=5", transport: nil) == nil)
        // Out-of-range values are ignored, not trapped on.
        let odd = RTSPSetupReply(session: "s;timeout=99999999999999999999", transport: "RTP/AVP/TCP;interleaved=300-301;server_port=0-70000")
        #expect(odd?.timeout == 60 && odd?.interleaved == nil && odd?.serverPorts == nil)
        #expect(RTSPSetupReply(session: "s;timeout=100000", transport: nil)?.timeout == 3600)
    }

    @Test func responseFramingSplitAtEveryByte() throws {
        let sdp = "v=0\r\ns=x\r\n"
        let text = "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
        var all = ByteBuffer(string: "\r\n" + text)
        all.writeBytes([0x24, 3, 0, 2, 0xAB, 0xCD])
        all.writeString("RTSP/1.0 401 Unauthorized\nCSeq: 3\nWWW-Authenticate: Basic realm=\"x\"\n\n")
        all.writeString("GET_PARAMETER rtsp://c/ RTSP/1.0\r\nCSeq: 9\r\n\r\n")
        let expected: [RTSPFrame] = [
            .response(RTSPReceivedResponse(status: 200, headers: RTSPHeaders([("CSeq", "2"), ("Content-Length", "\(sdp.utf8.count)")]),
                                         body: ByteBuffer(string: sdp))),
            .interleaved(channel: 3, payload: ByteBuffer(bytes: [0xAB, 0xCD])),
            .response(RTSPReceivedResponse(status: 401, headers: RTSPHeaders([("CSeq", "3"), ("WWW-Authenticate", "Basic realm=\"x\"")]),
                                         body: ByteBuffer())),
            .request(RTSPRequest(method: "GET_PARAMETER", uri: "rtsp://c/", headers: RTSPHeaders([("CSeq", "9")]))),
        ]
        for split in 0...all.readableBytes {
            var decoder = RTSPFrameDecoder()
            var frames: [RTSPFrame] = []
            var first = all.getSlice(at: 0, length: split) ?? ByteBuffer()
            while let f = try decoder.decode(buffer: &first) { frames.append(f) }
            var rest = first
            var second = all.getSlice(at: split, length: all.readableBytes - split) ?? ByteBuffer()
            rest.writeBuffer(&second)
            while let f = try decoder.decode(buffer: &rest) { frames.append(f) }
            #expect(frames == expected, "split at \(split)")
            #expect(rest.readableBytes == 0)
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: [(all, expected)]) { RTSPFrameDecoder() }
    }
}
