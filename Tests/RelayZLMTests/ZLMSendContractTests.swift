import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import Testing
@testable import RelayZLM

/// The sender routes against recorded request/response pairs: requests as wvp-GB28181-pro
/// sends them (`media/zlm/ZLMServerFactory.java` `startSendRtp`: vhost, app, stream, ssrc,
/// src_port, pt, use_ps, only_audio, is_udp, udp_rtcp_timeout, dst_url, dst_port;
/// `ZLMMediaNodeServerService.java` startSendRtpPassive with close_delay_ms; ByeRequestProcessor
/// stopSendRtp); replies as ZLMediaKit's (`server/WebApi.cpp` `start_send_rtp` → `local_port`,
/// "can not find the source stream" NotFound; `stopSendRtp` → "stopSendRtp failed" OtherFailed).
@Suite struct ZLMSendContractTests {
    @Test func startSendRtpUDPSendsPSOverRTPFromSrcPort() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let sink = try await DatagramSink.bind()
        defer { sink.close() }
        // Not live yet: WA "can not find the source stream", NotFound.
        let form = "vhost=__defaultVhost__&app=rtp&stream=dev_chn&ssrc=0100000001&src_port=0&pt=96&use_ps=1&only_audio=0"
            + "&is_udp=1&udp_rtcp_timeout=0&dst_url=127.0.0.1&dst_port=\(sink.port)"
        let notLive = try await h.post("startSendRtp", form)
        #expect(notLive["code"] == .number(-500))
        #expect(notLive["local_port"] == nil)  // WA throws ApiRetException here: no local_port

        _ = try await h.publish("rtp/dev_chn", protocolName: "gb28181")
        let reply = try await h.post("startSendRtp", form)
        #expect(reply["code"] == .number(0))
        guard case .number(let local)? = reply["local_port"] else { Issue.record("no local_port: \(reply)"); return }
        #expect(local > 0)
        // The cached key frame goes out at once: RTP version 2, PT 96, the SSRC asked for.
        let packet = try #require(await sink.first(within: 5))
        #expect(packet.bytes.count > 12)
        #expect(packet.bytes[0] >> 6 == 2 && packet.bytes[1] & 0x7F == 96)
        #expect(Array(packet.bytes[8..<12]) == [0x05, 0xF5, 0xE1, 0x01])
        #expect(packet.sourcePort == Int(local))
        // A cascade sender is a reader (wvp checks totalReaderCount before stopping the device).
        let info = try await h.post("getMediaInfo", "app=rtp&schema=rtsp&stream=dev_chn&vhost=__defaultVhost__")
        #expect(info["totalReaderCount"] == .number(1))
        #expect(try await h.post("listRtpSender", "vhost=__defaultVhost__&app=rtp&stream=dev_chn")["data"] == .array([.string("0100000001")]))

        // stopSendRtp(vhost, app, stream, ssrc): code 0, then "stopSendRtp failed".
        let stop = try await h.post("stopSendRtp", "vhost=__defaultVhost__&app=rtp&stream=dev_chn&ssrc=0100000001")
        #expect(stop["code"] == .number(0))
        let again = try await h.post("stopSendRtp", "vhost=__defaultVhost__&app=rtp&stream=dev_chn")
        #expect(again["code"] == .number(-1))
        #expect(again["msg"] == .string("stopSendRtp failed"))
        #expect(try await h.post("stopSendRtp", "vhost=__defaultVhost__&app=rtp&stream=gone")["code"] == .number(-500))
    }

    /// Only PS payload: `use_ps=0` (raw ES, WA `type` kRtpRAW) is refused as a bad argument.
    @Test func onlyPSIsSupported() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.publish("rtp/dev_chn")
        let reply = try await h.post("startSendRtp", "vhost=__defaultVhost__&app=rtp&stream=dev_chn&ssrc=1&use_ps=0&is_udp=1&dst_url=127.0.0.1&dst_port=9")
        #expect(reply["code"] == .number(-300))
        #expect(try await h.post("startSendRtp", "vhost=__defaultVhost__&app=rtp&stream=dev_chn&ssrc=1")["code"] == .number(-300))
    }

    /// startSendRtpPassive(…, src_port, close_delay_ms): listens, answers `local_port`, and the
    /// upper platform connects there and gets RFC 4571 framed RTP.
    @Test func startSendRtpPassiveListens() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.publish("rtp/dev_chn", protocolName: "gb28181")
        let reply = try await h.post("startSendRtpPassive",
                                     "vhost=__defaultVhost__&app=rtp&stream=dev_chn&ssrc=0100000002&src_port=0&pt=96&use_ps=1&only_audio=0&close_delay_ms=10000")
        #expect(reply["code"] == .number(0))
        guard case .number(let port)? = reply["local_port"] else { Issue.record("no local_port: \(reply)"); return }
        #expect((47300...47399).contains(Int(port)))
        let bytes = try await StreamSink.read(port: Int(port), atLeast: 16, within: 5)
        #expect(bytes.count >= 16)
        // RFC 4571 length, then RTP v2 with the SSRC.
        #expect(bytes[2] >> 6 == 2 && Array(bytes[10..<14]) == [0x05, 0xF5, 0xE1, 0x02])
        #expect(try await h.post("startSendRtpPassive", "vhost=__defaultVhost__&app=rtp&stream=dev_chn&ssrc=3&is_udp=1")["code"] == .number(-300))
    }
}

/// A UDP socket on loopback keeping the first datagram it gets.
final class DatagramSink: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let got = NIOLockedValueBox<(bytes: [UInt8], sourcePort: Int)?>(nil)
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    static func bind() async throws -> DatagramSink {
        let sink = DatagramSink()
        let ch = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(sink) } }
            .bind(host: "127.0.0.1", port: 0).get()
        sink.channel.withLockedValue { $0 = ch }
        return sink
    }

    var port: Int { channel.withLockedValue { $0?.localAddress?.port } ?? 0 }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        got.withLockedValue { g in
            if g == nil { g = (Array(envelope.data.readableBytesView), envelope.remoteAddress.port ?? 0) }
        }
    }

    func first(within seconds: Double) async -> (bytes: [UInt8], sourcePort: Int)? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let g = got.withLockedValue({ $0 }) { return g }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return got.withLockedValue { $0 }
    }

    func close() { channel.withLockedValue { $0 }?.close(promise: nil) }
}

/// A TCP client on loopback collecting what it reads.
final class StreamSink: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let bytes = NIOLockedValueBox<[UInt8]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        bytes.withLockedValue { $0.append(contentsOf: buffer.readableBytesView) }
    }

    static func read(port: Int, atLeast n: Int, within seconds: Double) async throws -> [UInt8] {
        let sink = StreamSink()
        let ch = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(sink) } }
            .connect(host: "127.0.0.1", port: port).get()
        defer { ch.close(promise: nil) }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, sink.bytes.withLockedValue({ $0.count }) < n {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return sink.bytes.withLockedValue { $0 }
    }
}
