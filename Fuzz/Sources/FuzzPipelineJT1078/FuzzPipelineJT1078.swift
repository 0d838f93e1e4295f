import FuzzSupport
import NIOCore
import PipelineSupport
import RelayCore
@testable import RelayJT1078

/// JT/T 1078 publish pipeline: a terminal's TCP bytes through the handlers JT1078Server installs
/// (JT1078FrameDecoder in its ByteToMessageHandler, JT1078ConnectionHandler: reassembly, stream
/// demuxer, one Source per SIM/channel), then players of every output on each Source; see
/// PipelineHarness for the checks.
///
/// Input: first byte seeds the read splits and pins the layout as FuzzJT1078 does (mod 4: 1 =
/// 2016, 2 = 2019, else detected); the rest, with the Expander's repeat escape, is the stream.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        guard !input.isEmpty else { return }
        let pinned: JT1078Version? = switch input[0] % 4 {
        case 1: .v2016
        case 2: .v2019
        default: nil
        }
        let harness = PipelineHarness(config: config, seed: input[0])
        let terminal = harness.publisherChannel(port: 1078, peer: "192.0.2.9")
        let decoder = JT1078FrameDecoder(version: pinned, maxBodyBytes: config.jt1078.maxBodyBytes)
        try? terminal.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder, maximumBufferSize: decoder.maximumBufferSize))
        try? terminal.pipeline.syncOperations.addHandler(JT1078ConnectionHandler(relay: harness.relay, pinned: pinned))
        terminal.activate()
        var reads = ExpandedReads(input)
        harness.feed(terminal, &reads)
        harness.finish(closing: [terminal])
    }
}

let config = PipelineHarness.config()
