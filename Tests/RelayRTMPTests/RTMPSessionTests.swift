import NIOCore
import RelayCore
import RelayFLV
@testable import RelayRTMP
import RelayTestSupport
import Testing

/// The RTMP server session without sockets: a publisher and a player as byte streams on
/// ManualChannels, through the real RTMPServerHandler, Source and RTMP TransStream.
@Suite struct RTMPSessionTests {
    /// One relay on a hand-driven loop, and RTMP peers speaking to it.
    final class Harness: TestRelay {
        init() {
            super.init(muxers: [
                RTMPMuxer.factory(chunkSize: RelayConfig.default.rtmp.chunkSize, hevcMode: .enhanced),
                FLVMuxer.factory(hevcMode: .enhanced),
            ])
        }

        /// A connection through the RTMP handler, handshake done (plain C1, as ffmpeg sends).
        func connect(port: Int) throws -> Peer {
            let channel = try peerChannel(ip: "192.0.2.1", port: port)
            let peer = Peer(channel: channel, chunkSize: relay.config.rtmp.chunkSize)
            channel.capture(into: peer.written)
            try channel.pipeline.syncOperations.addHandler(RTMPServerHandler(relay: relay))
            channel.activate()
            var c0c1 = ByteBuffer(repeating: 0, count: 1 + 1536)
            c0c1.setInteger(UInt8(3), at: 0)
            channel.receive(c0c1)
            let s0s1s2 = peer.written.take()
            #expect(s0s1s2.readableBytes == 1 + 2 * 1536)
            #expect(s0s1s2.getInteger(at: 0, as: UInt8.self) == 3)
            channel.receive(ByteBuffer(repeating: 0, count: 1536))  // C2
            return peer
        }
    }

    /// One side of a connection: what it sends as RTMP messages, what it got decoded.
    final class Peer {
        let channel: ManualChannel
        let written = WrittenBytes()
        private var decoder: RTMPChunkDecoder
        private var pending = ByteBuffer()
        private(set) var received: [RTMPMessage] = []

        init(channel: ManualChannel, chunkSize: Int) {
            self.channel = channel
            self.decoder = RTMPChunkDecoder(maxMessageSize: 16 << 20, maxChunkSize: 1 << 20)
        }

        func send(_ messages: [RTMPMessage]) {
            var buffer = ByteBuffer()
            for m in messages { _ = RTMPChunkEncoder.write(m, chunkSize: 128, into: &buffer) }
            channel.receive(buffer)
        }

        /// Decodes what the server wrote since the last call (the decoder follows its Set Chunk Size).
        func poll() {
            var fresh = written.take()
            pending.writeBuffer(&fresh)
            while let message = try? decoder.next(from: &pending) { received.append(message) }
        }

        var statusCodes: [String] {
            poll()
            return received.compactMap { message -> String? in
                guard message.type == .commandAMF0, let command = try? RTMPCommand(message: message),
                      command.name == "onStatus" else { return nil }
                return command.arguments.first?["code"]?.stringValue
            }
        }

        var media: [RTMPMessage] {
            poll()
            return received.filter { $0.type == .video || $0.type == .audio }
        }
    }

    static func command(_ name: String, _ id: Double, object: AMF0Value = .null, _ args: [AMF0Value] = [],
                        stream: UInt32 = 0) -> RTMPMessage {
        RTMPCommand(name: name, transactionID: id, commandObject: object, arguments: args)
            .message(messageStreamID: stream, chunkStreamID: stream == 0 ? 3 : 4)
    }

    static func connect(app: String) -> RTMPMessage {
        command("connect", 1, object: .object([AMF0Property("app", .string(app)),
                                               AMF0Property("tcUrl", .string("rtmp://127.0.0.1/\(app)"))]))
    }

    static func media(_ type: RTMPMessageType, _ hex: String, at ms: UInt32) -> RTMPMessage {
        RTMPMessage(chunkStreamID: type == .video ? 6 : 7, timestamp: ms, type: type, messageStreamID: 1,
                    payload: ByteBuffer(bytes: hexBytes(hex)))
    }

    /// AVC sequence header (a real 720p record), an IDR access unit, AAC config and one frame.
    static let avcConfig = "1700000000" + "014d401fffe10017674d401fda014016ec0440000003004000000ca3c60ca801000468ef3c80"
    static let keyFrame = "1701000000" + "00000005" + "6588840021"
    static let aacConfig = "af00" + "1210"
    static let aacFrame = "af01" + "21100503"

    func publish(_ h: Harness, stream: String) async throws -> Peer {
        let publisher = try h.connect(port: 5000)
        publisher.send([Self.connect(app: "live"), Self.command("createStream", 2),
                        Self.command("publish", 3, [.string(stream), .string("live")], stream: 1)])
        #expect(await h.loop.run(until: { publisher.statusCodes.contains("NetStream.Publish.Start") }))
        publisher.send([Self.media(.video, Self.avcConfig, at: 0), Self.media(.audio, Self.aacConfig, at: 0),
                        Self.media(.video, Self.keyFrame, at: 0), Self.media(.audio, Self.aacFrame, at: 0)])
        return publisher
    }

    @Test func publishThenPlayGetsSequenceHeadersAndTheKeyFrame() async throws {
        let h = Harness()
        _ = try await publish(h, stream: "cam")
        #expect(h.relay.registry.source("live/cam") != nil)

        let player = try h.connect(port: 5001)
        player.send([Self.connect(app: "live"), Self.command("createStream", 2),
                     Self.command("play", 3, [.string("cam")], stream: 1)])
        #expect(await h.loop.run(until: { player.media.count >= 3 }))
        #expect(player.statusCodes.starts(with: ["NetStream.Play.Reset", "NetStream.Play.Start"]))
        let video = player.media.filter { $0.type == .video }
        // The AVC sequence header first, then the cached key frame: a picture at once.
        #expect(video.first?.payload.getInteger(at: video.first!.payload.readerIndex + 1, as: UInt8.self) == 0)
        #expect(video.contains { Array($0.payload.readableBytesView) == hexBytes(Self.keyFrame) })
    }

    @Test func playOfAnUnknownStreamAnswersStreamNotFound() async throws {
        let h = Harness()
        let player = try h.connect(port: 5001)
        player.send([Self.connect(app: "live"), Self.command("createStream", 2),
                     Self.command("play", 3, [.string("nobody")], stream: 1)])
        // source.play_wait_ms of virtual time passes while the player waits for a publisher.
        let waitMs = Int64(h.relay.config.source.playWaitMs)
        #expect(await h.loop.run(until: { player.statusCodes.contains("NetStream.Play.StreamNotFound") },
                           step: .milliseconds(max(1, waitMs / 100))))
        #expect(await h.loop.run(until: { !player.channel.isOpen }))
    }

    @Test func aSecondPublisherOfTheSameStreamIsRefusedByDefault() async throws {
        let h = Harness()
        let first = try await publish(h, stream: "cam")
        let second = try h.connect(port: 5002)
        second.send([Self.connect(app: "live"), Self.command("createStream", 2),
                     Self.command("publish", 3, [.string("cam"), .string("live")], stream: 1)])
        #expect(await h.loop.run(until: { !second.channel.isOpen }))
        #expect(!second.statusCodes.contains("NetStream.Publish.Start"))
        #expect(first.channel.isOpen)
    }

    @Test func malformedInputAfterTheHandshakeClosesOnlyThatConnection() async throws {
        let h = Harness()
        let publisher = try await publish(h, stream: "cam")
        let hostile = try h.connect(port: 5003)
        // A chunk of type 0 on chunk stream 2 claiming a 16 MiB command: over rtmp.max_command_bytes.
        hostile.channel.receive(ByteBuffer(bytes: [0x02, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x14, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 64)))
        #expect(await h.loop.run(until: { !hostile.channel.isOpen }))
        #expect(publisher.channel.isOpen)
        #expect(h.relay.registry.source("live/cam") != nil)
    }

    @Test func aWrongHandshakeVersionIsClosed() async throws {
        let h = Harness()
        let channel = ManualChannel(loop: h.loop, remote: try SocketAddress(ipAddress: "192.0.2.1", port: 5004))
        try channel.pipeline.syncOperations.addHandler(RTMPServerHandler(relay: h.relay))
        channel.activate()
        channel.receive(ByteBuffer(bytes: [0x47, 0x45, 0x54, 0x20] + [UInt8](repeating: 0x41, count: 1533)))  // "GET A…"
        #expect(await h.loop.run(until: { !channel.isOpen }))
    }
}
