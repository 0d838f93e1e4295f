import FuzzSupport
import Logging
import NIOCore
import PipelineSupport
import RelayCore
@testable import RelayRTSP

/// What a hostile camera answers a pull: the real RTSPPullHandler (behind RTSPFrameDecoder) on a
/// ManualChannel sends OPTIONS, DESCRIBE, SETUPs and PLAY; the input is the camera's side (its
/// answers, then interleaved RTP/RTCP), raw, so CSeq, status lines, SDP and framing are all
/// fuzzed. The client's UpstreamEvents go to a Source admitted like a pull's, with players of
/// every output; see PipelineHarness for the checks.
///
/// Input: first byte seeds the harness and the read sizes; the rest is the camera's byte stream
/// (the Expander's repeat escape applies), split into reads as ExpandedReads does.
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

    static func fuzz(_ input: [UInt8]) {
        guard !input.isEmpty, let target = UpstreamURL("rtsp://admin:secret@192.0.2.20:554/cam") else { return }
        let harness = PipelineHarness(config: config, seed: input[0])
        let info = SessionInfo(sessionID: "fuzz", protocolName: "rtsp-pull", remoteAddress: "192.0.2.20")
        var admitted: Source?
        harness.relay.admitPublisher(PublishRequest(streamID: "pull/fuzz", session: info), on: harness.loop) {
            if case .success(let source) = $0 { admitted = source }
        }
        guard let source = admitted else { return invariant(false, "pull fuzz source not admitted") }
        let camera = harness.publisherChannel(port: 50001, peer: "192.0.2.20")
        let started = harness.loop.makePromise(of: Void.self)
        // A failed start (refused, bad SDP) is not told to `events`: the pull closes its source.
        started.futureResult.whenFailure { _ in source.assumeIsolated { $0.close(reason: "pull: start failed") } }
        try? camera.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPFrameDecoder()))
        try? camera.pipeline.syncOperations.addHandler(RTSPPullHandler(
            target: target, transport: .tcp, timeouts: UpstreamTimeouts(connect: .seconds(10), receive: .seconds(10)),
            events: SourceEvents(source: source), started: started, logger: logger))
        camera.activate()

        var reads = ExpandedReads(input)
        harness.feed(camera, &reads)
        harness.finish(closing: [camera])
    }
}
