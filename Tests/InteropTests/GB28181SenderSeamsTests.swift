import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
@testable import RelayGB28181
import RelayRTP
import Testing

/// What a GB28181 platform asks of a cascade sender (issue 20): the local port it put in its
/// SDP (udp sends from it, tcp-active connects from it, tcp-passive listens on it), audio only
/// (a voice broadcast), and that a forwarded stream counts as watched. Checked with the real
/// server, ffmpeg publishing, sockets that see the sender's port, and ffprobe on the capture.
@Suite(.serialized)
struct GB28181SenderSeamsTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// A port nothing uses right now (bound and closed again).
    static func freePort(udp: Bool) async throws -> Int {
        let ch: any Channel = udp ? try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
            : try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = ch.localAddress?.port ?? 0
        try await ch.close()
        return port
    }

    /// The source ports of what arrives: datagrams on a UDP socket, connections to a TCP listener.
    final class PortsSeen: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let state = NIOLockedValueBox((ports: [Int](), packets: [ByteBuffer]()))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            state.withLockedValue {
                $0.ports.append(envelope.remoteAddress.port ?? 0)
                $0.packets.append(envelope.data)
            }
        }

        func accepted(_ ch: any Channel) {
            state.withLockedValue { $0.ports.append(ch.remoteAddress?.port ?? 0) }
        }

        var ports: [Int] { state.withLockedValue { $0.ports } }
        var packets: [ByteBuffer] { state.withLockedValue { $0.packets } }
    }

    static func publishing(_ stream: String, _ extra: String = "") async throws -> (TestServer, ChildProcess, String) {
        let server = try await TestServer.start(extra, gb28181: ", \"port_min\": 47850, \"port_max\": 47899")
        let media = try await GB28181SenderTests.Media.shared.h264(audio: "aac")
        let publisher = try server.publish(media, stream: stream)
        #expect(await server.waitPlayable(stream))
        return (server, publisher, media)
    }

    /// `local_port`: udp datagrams leave from it, tcp-passive listens on it, tcp-active connects
    /// from it; the answer names it. The facade's Swift calls give the same.
    @Test func localPortIsHonouredInEveryMode() async throws {
        let (server, publisher, _) = try await Self.publishing("live/lp")
        defer { publisher.terminate() }
        let api = AdminHTTP(port: server.adminPort)

        let seen = PortsSeen()
        let peer = try await DatagramBootstrap(group: Self.group)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(seen) } }
            .bind(host: "127.0.0.1", port: 0).get()
        let udpPort = try await Self.freePort(udp: true)
        let udp = try await api.post("/api/v1/gb28181/senders",
                                     json: #"{"stream": "live/lp", "ssrc": "0100000071", "dest": "127.0.0.1:\#(peer.localAddress?.port ?? 0)", "local_port": \#(udpPort)}"#)
        #expect(udp.status == 201 && udp.value["port"]?.int == udpPort, "\(udp.text)")
        #expect(await GB28181Tests.wait(5) { seen.ports.count >= 50 })
        #expect(Set(seen.ports) == [udpPort], "datagrams came from \(Set(seen.ports))")
        // Taken now: a second sender cannot send from it.
        let busy = try await api.post("/api/v1/gb28181/senders",
                                      json: #"{"stream": "live/lp", "ssrc": "0100000072", "dest": "127.0.0.1:9", "local_port": \#(udpPort)}"#)
        #expect(busy.status == 409 && busy.text.contains("on port \(udpPort)"), "\(busy.text)")

        let passivePort = try await Self.freePort(udp: false)
        let passive = try await api.post("/api/v1/gb28181/senders",
                                         json: #"{"stream": "live/lp", "ssrc": "0100000073", "mode": "tcp-passive", "local_port": \#(passivePort)}"#)
        #expect(passive.status == 201 && passive.value["port"]?.int == passivePort && passive.value["state"]?.string == "listening", "\(passive.text)")
        let platform = try await CascadePeer.connect(port: passivePort)
        #expect(await platform.wait(seconds: 5) { $0.packets.count >= 50 })
        #expect(try CascadeCheck.rtp(platform.packets, ssrc: 100_000_073, payloadType: 96).count > 10_000)

        // tcp-active through the Swift API a facade calls.
        let accepts = PortsSeen()
        let listener = try await ServerBootstrap(group: Self.group)
            .childChannelInitializer { ch in
                accepts.accepted(ch)
                return ch.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let activePort = try await Self.freePort(udp: false)
        let info = try await server.gb.startSender(GBSenderRequest(stream: "live/lp", ssrc: 100_000_074,
                                                                   dest: "127.0.0.1:\(listener.localAddress?.port ?? 0)",
                                                                   mode: .tcpActive, localPort: activePort))
        #expect(info.localPort == activePort && info.mode == .tcpActive && info.ssrcString == "0100000074")
        #expect(await GB28181Tests.wait(5) { accepts.ports == [activePort] }, "connected from \(accepts.ports)")
        #expect(await GB28181Tests.wait(5) { server.gb.senders(stream: "live/lp").first { $0.ssrc == 100_000_074 }?.state == .sending })
        #expect(server.gb.senders(stream: "live/lp").count == 3 && server.gb.senders(stream: "live/none").isEmpty)
        await #expect(throws: GBSenderError.notLive("live/none")) {
            _ = try await server.gb.startSender(GBSenderRequest(stream: "live/none", ssrc: 1, dest: "127.0.0.1:9", mode: .udp))
        }
        await #expect(throws: GBSenderError.self) {
            _ = try await server.gb.startSender(GBSenderRequest(stream: "live/lp", ssrc: 1, dest: nil, mode: .udp))
        }
        #expect(await server.gb.stopSenders(stream: "live/lp", ssrc: 100_000_074, dest: nil) == 1)
        #expect(await server.gb.stopSenders(stream: "live/lp", ssrc: nil, dest: nil) == 2)
        #expect(server.gb.senders(stream: nil).isEmpty)
        await platform.close()
        try await peer.close()
        try await listener.close()
        await server.stop()
    }

    /// `audio_only`: the program stream carries the audio track alone; ffprobe finds AAC and
    /// no video in the capture.
    @Test func audioOnlySendsOnlyTheAudioTrack() async throws {
        let (server, publisher, _) = try await Self.publishing("live/voice")
        defer { publisher.terminate() }
        let peer = try await CascadePeer.udp()
        let api = AdminHTTP(port: server.adminPort)
        let r = try await api.post("/api/v1/gb28181/senders",
                                   json: #"{"stream": "live/voice", "ssrc": "0100000081", "dest": "\#(peer.dest)", "audio_only": true}"#)
        #expect(r.status == 201 && r.value["audio_only"]?.bool == true, "\(r.text)")
        #expect(await peer.wait(seconds: 10) { $0.packets.count >= 100 })
        #expect((try await api.post("/api/v1/gb28181/senders", json: #"{"stream": "live/voice", "ssrc": "1", "dest": "127.0.0.1:9", "audio_only": 1}"#)).status == 400)
        _ = await server.gb.stopSenders(stream: "live/voice", ssrc: nil, dest: nil)
        // CascadeCheck.rtp expects video key frames: the audio-only PS is the payloads in order.
        let packets = try peer.packets.map { try RTPPacket(parsing: $0) }
        #expect(!packets.isEmpty && packets.allSatisfy { $0.ssrc == 100_000_081 && $0.payloadType == 96 })
        let gaps = zip(packets, packets.dropFirst()).filter { $1.sequence != $0.sequence &+ 1 }.count
        #expect(gaps == 0)
        let ps = packets.flatMap { Array($0.payload.readableBytesView) }
        #expect(CascadeCheck.contains(ps, [0, 0, 1, 0xBC]), "the map travels in band")
        let path = NSTemporaryDirectory() + "liverelay-audio-only-\(getpid()).ps"
        _ = FileManager.default.createFile(atPath: path, contents: Data(ps))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try await CascadeCheck.probe(path)
        #expect(probe.contains("codec_name=aac|sample_rate=44100|channels=2"), "\(probe)")
        #expect(!probe.contains("codec_type=video") && !probe.contains("h264"), "\(probe)")
        #expect(CascadeCheck.pesPayloads(ps, streamID: 0xE0).isEmpty, "no video PES")
        await peer.close()
        await server.stop()
    }

    /// A cascade sender is a reader: the stream (idle_timeout_ms 2000, action close) stays while
    /// it sends, the snapshot counts it; once it stops, the stream idles and closes.
    @Test func aSenderKeepsItsStreamFromIdling() async throws {
        let (server, publisher, _) = try await Self.publishing("live/watched", #""source": {"idle_timeout_ms": 2000, "idle_timeout_action": "close"}"#)
        defer { publisher.terminate() }
        let source = try #require(server.server.context.registry.source("live/watched"))
        let peer = try await CascadePeer.udp()
        let info = try await server.gb.startSender(GBSenderRequest(stream: "live/watched", ssrc: 100_000_091, dest: peer.dest, mode: .udp))
        #expect(info.state == .sending && info.localPort != nil)
        try await Task.sleep(nanoseconds: 3_000_000_000)
        #expect(server.server.context.registry.source("live/watched") === source, "closed as idle while a sender forwards it")
        let snapshot = await source.snapshot()
        #expect(snapshot.players.values.reduce(0, +) == 1, "\(snapshot.players)")
        #expect(snapshot.players.keys.contains { $0.protocolName == "rtp-ps" })
        #expect(await server.gb.stopSenders(stream: "live/watched", ssrc: nil, dest: nil) == 1)
        #expect(await GB28181Tests.wait(5) { server.server.context.registry.source("live/watched") == nil },
                "with no reader left the stream idles and closes")
        await peer.close()
        await server.stop()
    }
}
