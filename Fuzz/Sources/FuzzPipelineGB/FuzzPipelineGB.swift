import FuzzSupport
@testable import RelayGB28181
import NIOCore
import PipelineSupport
import RelayCore

/// GB28181 publish pipeline: RTP/PS from a camera through the handlers GB28181Service installs
/// (GBUDPHandler for datagrams, or GBTCPFrameDecoder (RFC 4571, bare or interleaved RTP) +
/// GBTCPHandler for TCP), the GBSession
/// (reorder buffer, PS demuxer) and its Source, then players of every output; see
/// PipelineHarness for the checks. The receiver is one of config's (static), on a port of its
/// own, accepting the first SSRC.
///
/// Input: first byte seeds the read splits; bit 0 picks TCP (the rest is the byte stream, in
/// Splitter reads) or UDP (the rest is datagrams `[len16][bytes]`, the top bit of len16 sending
/// from a second address: the camera's is the first one's); bits 1-2 pick the UDP reordering
/// (`configs`). The Expander's repeat escape applies to the rest either way.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        guard !input.isEmpty else { return }
        let tcp = input[0] & 1 == 1
        let config = configs[Int(input[0] >> 1) & 3]
        let harness = PipelineHarness(config: config, seed: input[0])
        let service = GB28181Service(context: harness.relay, group: harness.loop)
        let receiver = GBReceiver(streamID: "gb/fuzz", ssrc: nil, mode: tcp ? .tcpPassive : .udp, isStatic: true,
                                  usesSharedPort: false, device: nil)
        let camera = try! SocketAddress(ipAddress: "192.0.2.10", port: 15060)
        let other = try! SocketAddress(ipAddress: "198.51.100.66", port: 15060)
        let channel = ManualChannel(loop: harness.loop, local: try? SocketAddress(ipAddress: "127.0.0.1", port: 30000),
                                  remote: tcp ? camera : nil)
        if tcp {
            _ = try? service.addTCPHandlers(channel, owner: receiver, mode: .tcpPassive)
        } else {
            try? channel.pipeline.syncOperations.addHandler(GBUDPHandler(service: service, owner: receiver))
        }
        channel.activate()
        var reads = ExpandedReads(input)
        if tcp {
            harness.feed(channel, &reads)
        } else {
            while channel.isOpen, harness.withinTimeBudget {
                let header = reads.expander.take(2)
                guard header.count == 2 else { break }
                let length = Int(header[0] & 0x7F) << 8 | Int(header[1])
                let datagram = reads.expander.take(length)
                let from = header[0] & 0x80 == 0 ? camera : other
                channel.receive(AddressedEnvelope(remoteAddress: from, data: ByteBuffer(bytes: datagram)))
                harness.afterRead(bytes: datagram.count + 2)
                if datagram.count < length { break }
            }
        }
        harness.finish(closing: [channel])
    }
}

/// Reorder window (packets), hold (ms), loss policy: by count only, and by time as shipped.
let configs = [(0, 0, "next_frame"), (8, 0, "next_key_frame"), (512, 100, "next_frame"), (16, 20, "next_key_frame")].map {
    PipelineHarness.config("\"gb28181\": {\"enabled\": true, \"reorder_window\": \($0.0), \"reorder_ms\": \($0.1), \"loss_policy\": \"\($0.2)\"}",
                           sections: [GB28181Config.self])
}
