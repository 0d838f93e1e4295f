import Logging
import NIOCore
import NIOEmbedded
import RelayCore
import RelayFLV
import RelayTestSupport
import Testing
@testable import RelayRTMP

/// What the pull heard.
private final class HeardEvents: UpstreamEvents {
    var events: [MediaEvent] = []
    var ended: [String] = []

    func upstream(_ event: MediaEvent) { events.append(event) }
    func upstreamEnded(_ reason: String) { ended.append(reason) }
}

/// The server's side of one pull connection, scripted: the handler under test on an
/// EmbeddedChannel, our handshake server and chunk codec reading what it sends.
private final class ScriptedServer {
    let channel = EmbeddedChannel()
    let heard = HeardEvents()
    let started: EventLoopPromise<Void>
    private var handshake = RTMPHandshakeServer()
    private var decoder = RTMPChunkDecoder()
    private var buffer = ByteBuffer()
    private var handshakeDone = false
    private(set) var startResult: Result<Void, any Error>?

    init(url: String = "rtmp://192.0.2.1/live/cam?token=1") throws {
        started = channel.eventLoop.makePromise()
        let target = try #require(RTMPURL(url))
        let handler = RTMPPullHandler(target: target, timeouts: UpstreamTimeouts(connect: .seconds(5), receive: .seconds(2)),
                                      events: heard, started: started, logger: Logger(label: "test"))
        started.futureResult.assumeIsolated().whenComplete { [self] in startResult = $0 }
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 1935)).wait()
    }

    /// Everything the client sent since the last call, decoded (the handshake answered first).
    func received() throws -> [RTMPMessage] {
        while var out = try channel.readOutbound(as: ByteBuffer.self) { buffer.writeBuffer(&out) }
        if !handshakeDone {
            var replies: [ByteBuffer] = []
            handshakeDone = try handshake.advance(&buffer) { replies.append($0) }
            for reply in replies { try channel.writeInbound(reply) }
            if !handshakeDone { return [] }
            while var out = try channel.readOutbound(as: ByteBuffer.self) { buffer.writeBuffer(&out) }
        }
        var messages: [RTMPMessage] = []
        while let message = try decoder.next(from: &buffer) { messages.append(message) }
        return messages
    }

    func commands() throws -> [RTMPCommand] {
        try received().compactMap { $0.type == .commandAMF0 ? try RTMPCommand(message: $0) : nil }
    }

    func send(_ messages: RTMPMessage...) throws {
        var out = ByteBuffer()
        for m in messages { RTMPChunkEncoder.write(m, chunkSize: 128, into: &out) }
        try channel.writeInbound(out)
    }

    static func status(_ code: String, level: String = "status") -> RTMPMessage {
        RTMPStatus.onStatus(level: level, code: code, description: code, streamID: 1)
    }

    /// Handshake, connect, createStream and play, answered as a server does.
    func playUntilStart() throws {
        _ = try received()  // C0+C1 → S0+S1+S2
        let connect = try commands()
        #expect(connect.map(\.name) == ["connect"])
        #expect(connect.first?.commandObject["app"]?.stringValue == "live")
        #expect(connect.first?.commandObject["tcUrl"]?.stringValue == "rtmp://192.0.2.1:1935/live")
        try send(.windowAckSize(4096), RTMPStatus.connectResult(transactionID: 1))
        let create = try commands()
        #expect(create.map(\.name) == ["createStream"])
        try send(RTMPStatus.result(transactionID: 2, .number(1)))
        let play = try commands()
        #expect(play.map(\.name) == ["play"])
        #expect(play.first?.arguments.first?.stringValue == "cam?token=1")
        try send(Self.status("NetStream.Play.Reset"), Self.status("NetStream.Play.Start"))
    }
}

private func videoTag(_ bytes: [UInt8], timestamp: UInt32) -> RTMPMessage {
    RTMPMessage(chunkStreamID: 6, timestamp: timestamp, type: .video, messageStreamID: 1, payload: ByteBuffer(bytes: bytes))
}

@Suite struct RTMPPullClientTests {
    @Test func playsAndTurnsMediaIntoEvents() throws {
        let server = try ScriptedServer()
        try server.playUntilStart()
        #expect(server.startResult.map { (try? $0.get()) != nil } == true)

        try server.send(.data([.string("onMetaData"), .ecmaArray([AMF0Property(key: "videocodecid", value: .number(7))])],
                              messageStreamID: 1),
                        videoTag([0x17, 0, 0, 0, 0] + hexBytes(MediaFixtures.avcRecord), timestamp: 0),
                        videoTag([0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88], timestamp: 40))
        let kinds = server.heard.events.map { event -> String in
            switch event {
            case .tracks(let video, let audio): "tracks \(video) \(audio)"
            case .stream(let s): "stream \(s.codec)"
            case .packet(let p): "packet \(p.dts) \(p.isKeyFrame)"
            case .notice(let n): "notice \(n)"
            }
        }
        #expect(kinds == ["tracks true false", "stream h264", "packet 40 true"])

        // The publisher leaves: the pull hears the end once.
        try server.send(ScriptedServer.status("NetStream.Play.UnpublishNotify"))
        server.channel.embeddedEventLoop.run()
        #expect(server.heard.ended.count == 1)
        #expect(server.heard.ended.first?.contains("UnpublishNotify") == true)
        #expect(!server.channel.isActive)
    }

    @Test func acknowledgesTheServersWindow() throws {
        let server = try ScriptedServer()
        try server.playUntilStart()
        let frame = [UInt8](repeating: 0, count: 1000)
        for i in 0..<6 { try server.send(videoTag([0x27, 1, 0, 0, 0] + frame, timestamp: UInt32(i * 40))) }
        let acks = try server.received().filter { $0.type == .acknowledgement }
        #expect(!acks.isEmpty, "a 4096-byte window must be acknowledged")
    }

    @Test func aMissingStreamFailsTheConnect() throws {
        let server = try ScriptedServer()
        _ = try server.received()
        _ = try server.commands()
        try server.send(RTMPStatus.connectResult(transactionID: 1))
        _ = try server.commands()
        try server.send(RTMPStatus.result(transactionID: 2, .number(1)))
        _ = try server.commands()
        try server.send(ScriptedServer.status("NetStream.Play.StreamNotFound", level: "error"))
        server.channel.embeddedEventLoop.run()
        guard case .failure(let error)? = server.startResult else {
            Issue.record("connect should fail, got \(String(describing: server.startResult))")
            return
        }
        #expect("\(error)".contains("NetStream.Play.StreamNotFound"))
        #expect(server.heard.ended.isEmpty, "a failed connect is the future's, not upstreamEnded's")
    }

    @Test func silenceAfterPlayEndsTheSession() throws {
        let server = try ScriptedServer()
        try server.playUntilStart()
        try server.send(videoTag([0x17, 0, 0, 0, 0] + hexBytes(MediaFixtures.avcRecord), timestamp: 0))
        server.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(server.heard.ended.isEmpty)
        server.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(server.heard.ended.first?.contains("no media") == true)
    }

    @Test func urlsSplitLikeServersReadThem() {
        let url = RTMPURL("rtmp://[::1]:1936/live/a/b?k=v")
        #expect(url?.host == "::1" && url?.port == 1936 && url?.app == "live" && url?.streamName == "a/b?k=v")
        #expect(url?.tcURL == "rtmp://[::1]:1936/live")
        #expect(RTMPURL("rtmp://h/live") == nil)
        #expect(RTMPURL("rtmp://h/live/") == nil)
        #expect(RTMPURL("http://h/live/a") == nil)
    }
}
