import FuzzSupport
import Logging
import NIOCore
import PipelineSupport
import RelayCore
@testable import RelayWebRTC

/// WHIP publish pipeline: RTP packets as a browser's SRTP decrypts to (the crypto is libsrtp's
/// and authenticated: what passes it is the peer's plaintext) into the WHIPIngest (reorder
/// buffer, H.264 / G.711 depacketizers, parameter sets from the stream) and its Source, then
/// players of every output (see PipelineHarness for the checks).
///
/// Input: first byte: bit 0 picks PCMU instead of PCMA, bits 1-2 the video payload type; then
/// datagrams `[len16][bytes]` (the Expander's repeat escape applies), top bit of len16: let the
/// reorder buffer give up its gaps after this one.
@main
enum FuzzerMain: FuzzTarget {
    static let config = PipelineHarness.config()

    static func fuzz(_ input: [UInt8]) {
        guard !input.isEmpty else { return }
        let harness = PipelineHarness(config: config, seed: input[0])
        let audio = WHIPIngest.Audio(payloadType: input[0] & 1 == 0 ? 8 : 0, codec: input[0] & 1 == 0 ? .g711a : .g711u)
        let videoType: UInt8 = [102, 96, 108, 127][Int(input[0] >> 1) & 3]
        let info = SessionInfo(sessionID: "fuzz", protocolName: "webrtc", remoteAddress: "192.0.2.10")
        var admitted: Source?
        harness.relay.admitPublisher(PublishRequest(streamID: "whip/fuzz", session: info), on: harness.loop) {
            if case .success(let source) = $0 { admitted = source }
        }
        guard let source = admitted else { return invariant(false, "WHIP fuzz publisher not admitted") }
        let ingest = WHIPIngest(source: source, videoPayloadType: videoType, audio: audio, config: WebRTCConfig.defaults,
                                logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
        ingest.begin(on: harness.loop)
        var reads = ExpandedReads(input)
        while harness.withinTimeBudget {
            let header = reads.expander.take(2)
            guard header.count == 2 else { break }
            let length = Int(header[0] & 0x7F) << 8 | Int(header[1])
            let datagram = reads.expander.take(length)
            ingest.receive(rtp: ByteBuffer(bytes: datagram))
            if header[0] & 0x80 != 0 { ingest.releaseExpired(now: Int64.max / 2) }
            harness.afterRead(bytes: datagram.count + 2)
            if datagram.count < length { break }
        }
        ingest.releaseExpired(now: Int64.max / 2)
        ingest.sessionEnded(reason: "fuzz input ended", dropped: false)
        harness.finish(closing: [])
    }
}
