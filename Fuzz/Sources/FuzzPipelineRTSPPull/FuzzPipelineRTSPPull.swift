import FuzzSupport
import Logging
import NIOCore
import PipelineSupport
import RelayCore
import RelayFLV
@testable import RelayRTMP
@testable import RelayRTSP

/// What a hostile upstream answers a pull. The client's UpstreamEvents go to a Source admitted
/// like a pull's, with players of every output; see PipelineHarness for the checks.
/// - RTSP (first byte < 0x80): the real RTSPPullHandler (behind RTSPFrameDecoder) on a
///   ManualChannel sends OPTIONS, DESCRIBE, SETUPs and PLAY; the input is the camera's side (its
///   answers, then interleaved RTP/RTCP), raw, so CSeq, status lines, SDP and framing are all fuzzed.
/// - RTMP (first byte ≥ 0x80): the real RTMPPullHandler; the harness answers the handshake (S0 S1
///   S2), and with bit 6 clear also connect, createStream and play (NetStream.Play.Start), so the
///   input is the origin's chunk stream of media, data and control; with bit 6 set the input is
///   everything the origin says after the handshake, command answers included.
///
/// Input: first byte picks the mode and seeds the harness and the read sizes; the rest is the
/// upstream's byte stream (the Expander's repeat escape applies), split into reads as
/// ExpandedReads does.
@main
enum FuzzerMain: FuzzTarget {
    static let config = PipelineHarness.config()
    static let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Applies the client's events to the pull's Source; the end closes it, as a pull does.
    final class SourceEvents: UpstreamEvents {
        let source: Source
        init(source: Source) { self.source = source }
        func upstream(_ event: MediaEvent) { source.assumeIsolated { $0.receive(event) } }
        func upstreamEnded(_ reason: String) { source.assumeIsolated { $0.close(reason: "pull: \(reason)") } }
    }

    static let timeouts = UpstreamTimeouts(connect: .seconds(10), receive: .seconds(10))

    static func fuzz(_ input: [UInt8]) {
        guard !input.isEmpty else { return }
        let rtmp = input[0] & 0x80 != 0
        let harness = PipelineHarness(config: config, seed: input[0])
        let info = SessionInfo(sessionID: "fuzz", protocolName: rtmp ? "rtmp-pull" : "rtsp-pull", remoteAddress: "192.0.2.20")
        var admitted: Source?
        harness.relay.admitPublisher(PublishRequest(streamID: "pull/fuzz", session: info), on: harness.loop) {
            if case .success(let source) = $0 { admitted = source }
        }
        guard let source = admitted else { return invariant(false, "pull fuzz source not admitted") }
        let upstream = harness.publisherChannel(port: 50001, peer: "192.0.2.20")
        let started = harness.loop.makePromise(of: Void.self)
        // A failed start (refused, bad SDP) is not told to `events`: the pull closes its source.
        started.futureResult.whenFailure { _ in source.assumeIsolated { $0.close(reason: "pull: start failed") } }
        let events = SourceEvents(source: source)
        if rtmp {
            guard let target = try? RTMPURL(parsing: "rtmp://192.0.2.20:1935/live/origin") else { return }
            try? upstream.pipeline.syncOperations.addHandler(RTMPPullHandler(
                target: target, timeouts: timeouts, events: events, started: started, logger: logger))
            upstream.activate()
            var hello = ByteBuffer(repeating: 0, count: 1 + 2 * 1536)
            hello.setInteger(UInt8(3), at: 0)  // S0, a plain S1 and S2
            if input[0] & 0x40 == 0 {
                for message in originAnswers() { RTMPChunkEncoder.write(message, chunkSize: 128, into: &hello) }
            }
            upstream.receive(hello)
            harness.afterRead(bytes: hello.readableBytes)
        } else {
            guard let target = UpstreamURL("rtsp://admin:secret@192.0.2.20:554/cam") else { return }
            try? upstream.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPFrameDecoder()))
            try? upstream.pipeline.syncOperations.addHandler(RTSPPullHandler(
                target: target, transport: .tcp, timeouts: timeouts, events: events, started: started, logger: logger))
            upstream.activate()
        }

        var reads = ExpandedReads(input)
        harness.feed(upstream, &reads)
        harness.finish(closing: [upstream])
    }

    /// An origin's answers to connect, createStream and play, as nginx-rtmp and our server send them.
    static func originAnswers() -> [RTMPMessage] {
        [
            RTMPCommand(name: "_result", transactionID: 1, commandObject: .object([AMF0Property("fmsVer", .string("FMS/3,0,1,123"))]),
                        arguments: [.object([AMF0Property("level", .string("status")),
                                             AMF0Property("code", .string("NetConnection.Connect.Success"))])]).message(),
            RTMPCommand(name: "_result", transactionID: 2, arguments: [.number(1)]).message(),
            RTMPCommand(name: "onStatus", transactionID: 0, arguments: [.object([
                AMF0Property("level", .string("status")), AMF0Property("code", .string("NetStream.Play.Start")),
            ])]).message(messageStreamID: 1, chunkStreamID: 5),
        ]
    }
}
