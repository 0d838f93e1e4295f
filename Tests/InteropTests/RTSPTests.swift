import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import Testing

/// RTSP play with real clients (ffprobe, ffmpeg, GStreamer) and a raw client for what they
/// cannot show: RTP-Info, time to first frame, bad input, vanishing players, session timeout.
@Suite(.serialized)
struct RTSPTests {
    static let gstAvailable = (try? Tools.path("gst-launch-1.0")) != nil

    @Test func ffprobeSeesH264AndAACOverTCPAndUDP() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/rtsp")
        defer { publisher.terminate() }

        for transport in ["tcp", "udp"] {
            try await FFprobe.expectStreams(server.rtspURL("live/rtsp"), rtspTransport: transport, context: "over \(transport)")
        }
        await server.stop()
    }

    @Test func fiveSecondDecodeOverTCPAndUDPIsCleanWithAtLeast100Frames() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/decode")
        defer { publisher.terminate() }
        try await Task.sleep(nanoseconds: 700_000_000)  // join mid-GOP: the GOP cache starts players

        let url = server.rtspURL("live/decode")
        async let tcp = Self.decode(url, transport: "tcp", seconds: 5)
        async let udp = Self.decode(url, transport: "udp", seconds: 5)
        for (transport, r) in [("tcp", try await tcp), ("udp", try await udp)] {
            expectCleanDecode(r.status, r.err, transport)
            #expect(r.frames >= 100, "\(transport): \(r.frames) frames decoded")
        }
        await server.stop()
    }

    @Test(.enabled(if: gstAvailable, "gst-launch-1.0 not installed (apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)"))
    func gstreamerPlays100BuffersOverTCP() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/gst")
        defer { publisher.terminate() }
        let r = try await ChildProcess.run("gst-launch-1.0", [
            "-q", "rtspsrc", "location=\(server.rtspURL("live/gst"))", "protocols=tcp", "!",
            "rtph264depay", "!", "h264parse", "!", "fakesink", "num-buffers=100",
        ], timeout: 30)
        #expect(r.status == 0, "gst-launch-1.0: \(r.err) \(r.out)")
        await server.stop()
    }

    @Test func h265FedToTheCoreIsSeenAndDecodedOverRTSP() async throws {
        let server = try await TestServer.start()
        let clip = NSTemporaryDirectory() + "liverelay-rtsp-\(getpid()).hevc"
        defer { try? FileManager.default.removeItem(atPath: clip) }
        let made = try await ChildProcess.run("ffmpeg", [
            "-y", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "2",
            "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=0:aud=1:log-level=error",
            "-pix_fmt", "yuv420p", "-f", "hevc", clip,
        ], timeout: 120)
        try #require(made.status == 0, "ffmpeg libx265: \(made.err)")
        let units = try Self.hevcAccessUnits(try Data(contentsOf: URL(fileURLWithPath: clip)))
        try #require(units.count >= 40 && units[0].key, "\(units.count) access units")
        let sets = units[0].nals.filter { (32...34).contains(($0.getInteger(at: $0.readerIndex, as: UInt8.self)! >> 1) & 0x3F) }
        func ofType(_ t: UInt8) -> [ByteBuffer] { sets.filter { ($0.getInteger(at: $0.readerIndex, as: UInt8.self)! >> 1) & 0x3F == t } }
        let stream = try AVStream.h265(index: 0, timebase: 90000, vps: ofType(32), sps: ofType(33), pps: ofType(34))

        let context = server.server.context
        let source = Source(id: "live/hevc", eventLoop: server.server.group.next(),
                            publisher: SessionInfo(sessionID: "test", protocolName: "test", remoteAddress: "local"), context: context)
        try context.registry.register(source)
        await source.expectTracks(video: true, audio: false)
        await source.updateStream(stream)
        let pusher = Task {
            var n: Int64 = 0
            while !Task.isCancelled {
                for unit in units where !Task.isCancelled {
                    await source.write(AVPacket(streamIndex: 0, codec: .h265, dts: n * 3600, pts: n * 3600, isKeyFrame: unit.key,
                                                payload: AnnexB.lengthPrefixed(unit.nals)))
                    n += 1
                    try? await Task.sleep(nanoseconds: 40_000_000)
                }
            }
        }
        defer { pusher.cancel() }
        #expect(await server.waitPlayable("live/hevc"))

        let url = server.rtspURL("live/hevc")
        let probe = try await FFprobe.run(url, entries: "stream=codec_name,width,height", rtspTransport: "tcp")
        #expect(probe.status == 0, "ffprobe: \(probe.err)")
        #expect(probe.out.contains("codec_name=hevc|width=1280|height=720"), "\(probe.out)")
        let decode = try await Self.decode(url, transport: "tcp", seconds: 2)
        #expect(decode.status == 0 && decode.frames >= 35, "\(decode.frames) frames: \(decode.err)")
        #expect(decode.err.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "hevc decode errors: \(decode.err)")
        pusher.cancel()
        await source.close(reason: "test done")
        await server.stop()
    }

    @Test func g711IsSeenAsPCMA() async throws {
        let server = try await TestServer.start()
        let publisher = try await server.publishPlayable(TestMedia.shared.h264G711FLV(), stream: "live/alaw")
        defer { publisher.terminate() }
        let r = try await FFprobe.run(server.rtspURL("live/alaw"), entries: "stream=codec_name,sample_rate,channels",
                                      rtspTransport: "tcp")
        #expect(r.status == 0, "ffprobe: \(r.err)")
        #expect(r.out.contains("codec_name=pcm_alaw|sample_rate=8000|channels=1"), "\(r.out)")
        await server.stop()
    }

    /// The raw client pipelines OPTIONS, DESCRIBE and the first SETUP, then plays over TCP:
    /// RTP-Info must name the first packet of each track, and a late joiner's first complete
    /// key frame must arrive at once (from the GOP cache).
    @Test(arguments: [0, 350])
    func lateJoinerGetsAKeyFrameAtOnceAndExactRTPInfo(mergeWriteMs: Int) async throws {
        let times = try await TestServer.lateJoinTimes("live/late", mergeWriteMs: mergeWriteMs, joins: 10) { server, i in
            let started = NIODeadline.now()
            let client = try await RTSPTestClient.connect(port: server.rtspPort)
            let play = try await client.playTCP(server.rtspURL("live/late"))
            let first = await client.waitFrame(seconds: 5) { $0.channel == 0 && $0.isRTP && $0.marker }
            let frame = try #require(first, "no complete video frame")
            let ms = Double((frame.at - started).nanoseconds) / 1e6

            let frames = client.frames
            for channel: UInt8 in [0, 2] {
                let firstPacket = try #require(frames.first { $0.channel == channel && $0.isRTP }, "channel \(channel)")
                #expect(play.rtpInfo.contains("seq=\(firstPacket.sequence);rtptime=\(firstPacket.timestamp)"),
                        "RTP-Info \(play.rtpInfo) vs first packet on \(channel): \(firstPacket.sequence)/\(firstPacket.timestamp)")
            }
            // The first video payload starts a key frame: SPS sent in band before the IDR.
            let firstVideo = try #require(frames.first { $0.channel == 0 && $0.isRTP })
            #expect(firstVideo.payloadFirstByte & 0x1F == 7, "first NAL type \(firstVideo.payloadFirstByte & 0x1F)")
            if i == 0 {
                let teardown = try await client.request("TEARDOWN", play.base, ["Session: \(play.session)"])
                #expect(teardown.status == 200)
            }
            await client.close()
            return ms
        }
        let median = (times[4] + times[5]) / 2
        print("RTSP/TCP late joiner (merge_write_ms \(mergeWriteMs)), connect to first complete key frame, ms: median \(median), min \(times[0]), max \(times[9])")
        #expect(median < 500, "median time to first frame \(median) ms")
    }

    @Test func badInputGetsAClearAnswerOrCloseAndAPlayerIsUnaffected() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/victim")
        defer { publisher.terminate() }
        let url = server.rtspURL("live/victim")
        let player = try ChildProcess("ffmpeg", ["-v", "error", "-nostats", "-rtsp_transport", "tcp", "-i", url,
                                                 "-t", "8", "-f", "null", "-", "-progress", "pipe:1"])
        defer { player.terminate() }
        try await Task.sleep(nanoseconds: 1_000_000_000)

        // A 100 KB request line: 400 (or a reset), closed, logged.
        let huge = try await RTSPTestClient.connect(port: server.rtspPort)
        try await huge.send("DESCRIBE \(url)/" + String(repeating: "a", count: 100_000) + " RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        #expect(await huge.waitClosed(seconds: 5), "100 KB request line: connection left open")
        let hugeReply = huge.replies.first
        #expect(hugeReply == nil || hugeReply?.status == 400, "\(String(describing: hugeReply))")
        #expect(await server.log.eventually("bad RTSP request", "exceed"))

        // Missing CSeq: 400, and the connection still serves.
        let noCSeq = try await RTSPTestClient.connect(port: server.rtspPort)
        try await noCSeq.send("OPTIONS \(url) RTSP/1.0\r\nUser-Agent: x\r\n\r\n")
        let reply = try #require(await noCSeq.waitReply(seconds: 5), "no answer to a request without CSeq")
        #expect(reply.status == 400)
        let options = try await noCSeq.request("OPTIONS", url)
        #expect(options.status == 200 && options.headers["public"]?.contains("GET_PARAMETER") == true)

        // Nonsense Transport: 461; unknown session: 454; PLAY before SETUP of a session: 454.
        let transport = try await RTSPTestClient.connect(port: server.rtspPort)
        #expect(try await transport.request("DESCRIBE", url).status == 200)
        #expect(try await transport.request("SETUP", url + "/trackID=0", ["Transport: ;;=bogus,RTP/XYZ;interleaved=a-b"]).status == 461)
        #expect(try await transport.request("PLAY", url, ["Session: 12345"]).status == 454)
        #expect(try await transport.request("SETUP", url + "/trackID=9", ["Transport: RTP/AVP/TCP;interleaved=0-1"]).status == 404)
        #expect(await server.log.eventually("unsupported RTSP Transport"))

        // Interleaved data before SETUP: closed, logged.
        let early = try await RTSPTestClient.connect(port: server.rtspPort)
        try await early.send(bytes: [0x24, 0, 0, 4, 1, 2, 3, 4])
        #expect(await early.waitClosed(seconds: 5), "interleaved data before SETUP: connection left open")
        #expect(await server.log.eventually("interleaved data on channel 0 before SETUP"))

        // A client that vanishes mid-PLAY: it leaves the TransStream; the other player stays.
        let source = try #require(server.server.context.registry.source("live/victim"))
        let kind = RTPChannelLayout([.init(streamIndex: 0, rtp: 0, rtcp: 1), .init(streamIndex: 1, rtp: 2, rtcp: 3)]).kind
        #expect(await source.playerCounts[kind] == 1, "the ffmpeg player")
        let vanishing = try await RTSPTestClient.connect(port: server.rtspPort)
        _ = try await vanishing.playTCP(url)
        #expect(await vanishing.waitFrame(seconds: 5) { $0.channel == 0 && $0.isRTP } != nil)
        #expect(await source.playerCounts[kind] == 2)
        await vanishing.abort()
        var left = false
        for _ in 0..<100 where !left {
            left = await source.playerCounts[kind] == 1
            if !left { try? await Task.sleep(nanoseconds: 20_000_000) }
        }
        let counts = await source.playerCounts
        #expect(left, "vanished player still attached: \(counts)")

        // Garbage binary: a clear close too.
        let garbage = try await RTSPTestClient.connect(port: server.rtspPort)
        try await garbage.send(bytes: (0..<20_000).map { _ in UInt8.random(in: 0x80...0xFF) })
        #expect(await garbage.waitClosed(seconds: 5), "garbage: connection left open")

        let status = await player.wait(seconds: 20)
        expectCleanDecode(status, player.stderr, "the concurrent player")
        #expect(Self.lastFrameCount(player.stdout) >= 150, "the concurrent player decoded \(Self.lastFrameCount(player.stdout)) frames")
        let after = try await RTSPTestClient.connect(port: server.rtspPort)
        #expect(try await after.request("OPTIONS", url).status == 200, "server still serves")
        await server.stop()
    }

    /// UDP: RTP arrives on the client's ports from the server ports it was told; a client that
    /// sends no RTCP and no keep-alive is timed out. An unknown stream is 404 after the wait.
    @Test func udpDeliversAndASilentSessionTimesOut() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/udp", "\"source\": {\"play_wait_ms\": 300}", rtsp: ", \"session_timeout_ms\": 1000")
        defer { publisher.terminate() }
        let url = server.rtspURL("live/udp")

        let client = try await RTSPTestClient.connect(port: server.rtspPort)
        let waited = NIODeadline.now()
        #expect(try await client.request("DESCRIBE", server.rtspURL("live/none")).status == 404)
        #expect(NIODeadline.now() - waited >= .milliseconds(250), "404 only after play_wait_ms")

        let receiver = try await UDPCounter.bind()
        defer { receiver.close() }
        #expect(try await client.request("DESCRIBE", url).status == 200)
        let setup = try await client.request("SETUP", url + "/trackID=0",
                                             ["Transport: RTP/AVP;unicast;client_port=\(receiver.rtpPort)-\(receiver.rtcpPort)"])
        #expect(setup.status == 200)
        let transport = setup.headers["transport"] ?? ""
        #expect(transport.contains("server_port="), "\(transport)")
        let session = String((setup.headers["session"] ?? "").split(separator: ";").first ?? "")
        let play = try await client.request("PLAY", url + "/", ["Session: \(session)"])
        #expect(play.status == 200)
        let rtpInfo = play.headers["rtp-info"] ?? ""

        var packets = 0
        for _ in 0..<100 where packets < 50 {
            packets = receiver.rtpPackets
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(packets >= 50, "\(packets) RTP datagrams")
        #expect(receiver.rtcpPackets >= 1, "sender reports on the RTCP port")
        let serverPort = Int(transport.split(separator: ";").first { $0.hasPrefix("server_port=") }?
            .dropFirst("server_port=".count).split(separator: "-").first ?? "") ?? -1
        #expect(receiver.rtpSourcePort == serverPort, "RTP comes from the announced server port")
        let first = try #require(receiver.firstRTP)
        #expect(rtpInfo.contains("seq=\(first.sequence);rtptime=\(first.timestamp)"), "RTP-Info \(rtpInfo) vs first datagram \(first)")

        #expect(await client.waitClosed(seconds: 4), "silent UDP session not timed out")
        #expect(await server.log.eventually("timed out"))
        await server.stop()
    }

    // MARK: helpers

    static func decode(_ url: String, transport: String, seconds: Int) async throws -> (status: Int32?, err: String, frames: Int) {
        let r = try await ChildProcess.run("ffmpeg", [
            "-v", "error", "-nostats", "-rtsp_transport", transport, "-i", url, "-t", "\(seconds)", "-f", "null", "-",
            "-progress", "pipe:1",
        ], timeout: Double(seconds) + 25)
        return (r.status, r.err, lastFrameCount(r.out))
    }

    static func lastFrameCount(_ progress: String) -> Int {
        progress.split(separator: "\n").compactMap { line -> Int? in
            line.hasPrefix("frame=") ? Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) : nil
        }.last ?? 0
    }

    struct HEVCUnit {
        var nals: [ByteBuffer]
        var key: Bool
    }

    /// Splits an Annex-B H.265 stream (made with `aud=1`) into access units at the delimiters.
    static func hevcAccessUnits(_ data: Data) throws -> [HEVCUnit] {
        var units: [HEVCUnit] = []
        var current: [ByteBuffer] = []
        func flush() {
            guard !current.isEmpty else { return }
            let key = current.contains { (16...23).contains(($0.getInteger(at: $0.readerIndex, as: UInt8.self)! >> 1) & 0x3F) }
            units.append(HEVCUnit(nals: current, key: key))
            current = []
        }
        for nal in AnnexB.split(ByteBuffer(bytes: data)) where nal.readableBytes >= 2 {
            let type = (nal.getInteger(at: nal.readerIndex, as: UInt8.self)! >> 1) & 0x3F
            if type == 35 { flush(); continue }
            current.append(nal)
        }
        flush()
        return units
    }
}

/// A minimal RTSP client over NIO: sends requests, and records responses and interleaved frames
/// with their arrival time as they come.
final class RTSPTestClient: Sendable {
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Frame {
        var channel: UInt8
        var at: NIODeadline
        var isRTP: Bool
        var marker: Bool
        var sequence: UInt16
        var timestamp: UInt32
        var payloadFirstByte: UInt8
    }

    struct PlayInfo {
        var session: String
        var rtpInfo: String
        var base: String
    }

    struct Failed: Error, CustomStringConvertible { let description: String }

    private struct State {
        var pending: [UInt8] = []
        var replies: [Reply] = []
        var frames: [Frame] = []
        var closed = false
        var cseq = 0
    }

    private let channel: any Channel
    private let state: NIOLockedValueBox<State>

    static func connect(port: Int) async throws -> RTSPTestClient {
        let state = NIOLockedValueBox(State())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Reader(state: state)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RTSPTestClient(channel: channel, state: state)
    }

    private init(channel: any Channel, state: NIOLockedValueBox<State>) {
        self.channel = channel
        self.state = state
    }

    var replies: [Reply] { state.withLockedValue { $0.replies } }
    var frames: [Frame] { state.withLockedValue { $0.frames } }

    func send(_ text: String) async throws { try await channel.writeAndFlush(ByteBuffer(string: text)) }
    func send(bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }

    func nextCSeq() -> Int { state.withLockedValue { $0.cseq += 1; return $0.cseq } }

    func requestText(_ method: String, _ url: String, _ headers: [String] = []) -> String {
        "\(method) \(url) RTSP/1.0\r\nCSeq: \(nextCSeq())\r\nUser-Agent: LiveRelayTest\r\n"
            + headers.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    func request(_ method: String, _ url: String, _ headers: [String] = []) async throws -> Reply {
        let before = replies.count
        try await send(requestText(method, url, headers))
        guard let reply = await waitReply(after: before, seconds: 10) else { throw Failed(description: "no reply to \(method)") }
        return reply
    }

    func waitReply(after count: Int = 0, seconds: Double) async -> Reply? {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        while NIODeadline.now() < deadline {
            let (r, closed) = state.withLockedValue { ($0.replies, $0.closed) }
            if r.count > count { return r[count] }
            if closed { return nil }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        return nil
    }

    /// OPTIONS, DESCRIBE and SETUP of the first track pipelined, SETUP of the second, PLAY.
    func playTCP(_ url: String) async throws -> PlayInfo {
        let before = replies.count
        try await send(requestText("OPTIONS", url) + requestText("DESCRIBE", url, ["Accept: application/sdp"])
                       + requestText("SETUP", url + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"]))
        guard await waitReply(after: before + 2, seconds: 10) != nil else { throw Failed(description: "no SETUP reply") }
        let r = replies
        guard r[before].status == 200, r[before + 1].status == 200, r[before + 2].status == 200 else {
            throw Failed(description: "pipelined replies \(r[before...].map(\.status))")
        }
        let base = r[before + 1].headers["content-base"] ?? url + "/"
        let session = String((r[before + 2].headers["session"] ?? "").split(separator: ";").first ?? "")
        let setup2 = try await request("SETUP", base + "trackID=1", ["Transport: RTP/AVP/TCP;unicast;interleaved=2-3", "Session: \(session)"])
        guard setup2.status == 200 else { throw Failed(description: "SETUP 2: \(setup2.status)") }
        let play = try await request("PLAY", base, ["Session: \(session)", "Range: npt=0.000-"])
        guard play.status == 200 else { throw Failed(description: "PLAY: \(play.status)") }
        return PlayInfo(session: session, rtpInfo: play.headers["rtp-info"] ?? "", base: base)
    }

    func waitFrame(seconds: Double, _ predicate: (Frame) -> Bool) async -> Frame? {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        while NIODeadline.now() < deadline {
            if let f = frames.first(where: predicate) { return f }
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
        return nil
    }

    func waitClosed(seconds: Double) async -> Bool {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        while NIODeadline.now() < deadline {
            if state.withLockedValue({ $0.closed }) { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return false
    }

    func close() async { try? await channel.close() }

    /// Vanishes: the connection drops with no TEARDOWN.
    func abort() async {
        try? await channel.close()
    }

    private final class Reader: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state: NIOLockedValueBox<State>
        init(state: NIOLockedValueBox<State>) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).readableBytesView)
            let now = NIODeadline.now()
            state.withLockedValue { s in
                s.pending += bytes
                Self.parse(&s, at: now)
            }
        }

        func channelInactive(context: ChannelHandlerContext) { state.withLockedValue { $0.closed = true } }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

        private static func parse(_ s: inout State, at now: NIODeadline) {
            while !s.pending.isEmpty {
                if s.pending[0] == 0x24 {
                    guard s.pending.count >= 4 else { return }
                    let length = Int(s.pending[2]) << 8 | Int(s.pending[3])
                    guard s.pending.count >= 4 + length else { return }
                    let p = Array(s.pending[4..<(4 + length)])
                    let isRTP = p.count > 12 && !(72...76).contains(p[1] & 0x7F)  // RTCP types 200-204
                    s.frames.append(Frame(channel: s.pending[1], at: now, isRTP: isRTP,
                                          marker: p.count > 1 && p[1] & 0x80 != 0,
                                          sequence: p.count >= 4 ? UInt16(p[2]) << 8 | UInt16(p[3]) : 0,
                                          timestamp: p.count >= 8 ? p[4..<8].reduce(0) { $0 << 8 | UInt32($1) } : 0,
                                          payloadFirstByte: p.count > 12 ? p[12] : 0))
                    s.pending.removeFirst(4 + length)
                    continue
                }
                guard let end = s.pending.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) else { return }
                let head = String(decoding: s.pending[..<end.lowerBound], as: UTF8.self)
                var headers: [String: String] = [:]
                let lines = head.components(separatedBy: "\r\n")
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                guard s.pending.count >= end.upperBound + length else { return }
                let body = String(decoding: s.pending[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
                let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
                s.replies.append(Reply(status: status, headers: headers, body: body))
                s.pending.removeFirst(end.upperBound + length)
            }
        }
    }
}

/// Two UDP sockets standing in for a player's RTP and RTCP ports.
final class UDPCounter: Sendable {
    private let rtp: any Channel
    private let rtcp: any Channel
    typealias Counts = (rtp: Int, rtcp: Int, rtpFrom: Int?, first: (sequence: UInt16, timestamp: UInt32)?)
    private let counts: NIOLockedValueBox<Counts>

    static func bind() async throws -> UDPCounter {
        let counts = NIOLockedValueBox<Counts>((rtp: 0, rtcp: 0, rtpFrom: nil, first: nil))
        func open(_ isRTP: Bool) async throws -> any Channel {
            try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(Counter(counts: counts, isRTP: isRTP))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }
        return UDPCounter(rtp: try await open(true), rtcp: try await open(false), counts: counts)
    }

    private init(rtp: any Channel, rtcp: any Channel, counts: NIOLockedValueBox<Counts>) {
        self.rtp = rtp
        self.rtcp = rtcp
        self.counts = counts
    }

    var rtpPort: Int { rtp.localAddress?.port ?? 0 }
    var rtcpPort: Int { rtcp.localAddress?.port ?? 0 }
    var rtpPackets: Int { counts.withLockedValue { $0.rtp } }
    var rtcpPackets: Int { counts.withLockedValue { $0.rtcp } }
    var rtpSourcePort: Int? { counts.withLockedValue { $0.rtpFrom } }
    var firstRTP: (sequence: UInt16, timestamp: UInt32)? { counts.withLockedValue { $0.first } }

    func close() {
        rtp.close(promise: nil)
        rtcp.close(promise: nil)
    }

    private final class Counter: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let counts: NIOLockedValueBox<Counts>
        let isRTP: Bool
        init(counts: NIOLockedValueBox<Counts>, isRTP: Bool) {
            self.counts = counts
            self.isRTP = isRTP
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let from = envelope.remoteAddress.port
            let header = envelope.data.readableBytes >= 12
                ? (sequence: envelope.data.getInteger(at: envelope.data.readerIndex + 2, as: UInt16.self)!,
                   timestamp: envelope.data.getInteger(at: envelope.data.readerIndex + 4, as: UInt32.self)!)
                : nil
            counts.withLockedValue {
                if isRTP {
                    $0.rtp += 1
                    $0.rtpFrom = $0.rtpFrom ?? from
                    $0.first = $0.first ?? header
                } else {
                    $0.rtcp += 1
                }
            }
        }
    }
}
