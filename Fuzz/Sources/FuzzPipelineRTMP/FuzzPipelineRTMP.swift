import FuzzSupport
import NIOCore
import PipelineSupport
import RelayCore
import RelayFLV
@testable import RelayRTMP

/// RTMP publish pipeline: the real RTMPServerHandler on a ManualChannel (handshake done by the
/// harness), its Source, and players of every output (RTMP, HTTP-FLV, RTSP) attached as the
/// stream becomes playable; see PipelineHarness for the checks.
///
/// Input: first byte seeds the read splits (Splitter) and picks the mode: even, the harness
/// sends connect / createStream / publish "live/fuzz" and the rest is the chunk stream that
/// follows (media, metadata, control); odd, the rest is the whole chunk stream after the
/// handshake, commands included (the FuzzRTMPChunk seeds, ffmpeg's publish). The rest may use
/// the Expander's repeat escape (floods). A `play` command is not delivered (its Task would run
/// past the input's end); the input stops there.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        guard !input.isEmpty else { return }
        let harness = PipelineHarness(config: config, seed: input[0])
        let publisher = harness.publisherChannel(port: 1935, peer: "192.0.2.7")
        try? publisher.pipeline.syncOperations.addHandler(RTMPServerHandler(relay: harness.relay))
        publisher.activate()
        var mirror = CommandMirror(config: config)

        var setup = ByteBuffer(repeating: 0, count: 1 + 2 * 1536)
        setup.setInteger(UInt8(3), at: 0)  // C0, a plain C1 (no digest), C2
        publisher.receive(setup)
        if input[0] & 1 == 0 {
            var commands = ByteBuffer()
            for message in harnessPublish() { RTMPChunkEncoder.write(message, chunkSize: 128, into: &commands) }
            _ = mirror.allows(commands)
            publisher.receive(commands)
            harness.afterRead(bytes: commands.readableBytes)
        }
        var reads = ExpandedReads(input)
        harness.feed(publisher, &reads) { mirror.allows($0) }
        harness.finish(closing: [publisher])
    }
}

let config = PipelineHarness.config()

/// connect (app "live"), createStream, publish "fuzz", as ffmpeg sends them.
func harnessPublish() -> [RTMPMessage] {
    [
        RTMPCommand(name: "connect", transactionID: 1, commandObject: .object([
            AMF0Property("app", .string("live")), AMF0Property("type", .string("nonprivate")),
            AMF0Property("tcUrl", .string("rtmp://127.0.0.1:1935/live")),
        ])).message(),
        RTMPCommand(name: "createStream", transactionID: 2).message(),
        RTMPCommand(name: "publish", transactionID: 3, arguments: [.string("fuzz"), .string("live")])
            .message(messageStreamID: 1, chunkStreamID: 4),
    ]
}

/// Decodes the same chunk stream as the server to see commands coming: `play` makes the handler
/// start a Swift Task (hook, wait for the stream) that would outlive the input.
struct CommandMirror {
    private var decoder: RTMPChunkDecoder
    private var pending = ByteBuffer()

    init(config: RelayConfig) {
        decoder = RTMPChunkDecoder(maxMessageSize: config.rtmp.maxMessageSize, maxChunkSize: config.rtmp.maxChunkSize)
    }

    /// False when this read completes a `play` command.
    mutating func allows(_ read: ByteBuffer) -> Bool {
        var read = read
        pending.writeBuffer(&read)
        do {
            while let message = try decoder.next(from: &pending) {
                guard message.typeID == 20 || message.typeID == 17 else { continue }
                if let command = try? RTMPCommand(message: message), command.name == "play" { return false }
            }
        } catch {
            return true  // the server fails the connection on the same bytes
        }
        pending = ByteBuffer(pending.readableBytesView)
        return true
    }
}
