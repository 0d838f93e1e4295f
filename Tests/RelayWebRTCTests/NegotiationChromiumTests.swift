import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import RelayWebRTC

/// By hand, against a live Chromium (/work/notes/ice-answer-check.py drives it; results in
/// /work/notes/ice-docs.md): with WEBRTC_ANSWER_DIR set, waits for the offer-whep.sdp and
/// offer-whip.sdp the script writes there, writes the answers this code renders (host candidate: a
/// UDP port of this test) and answers Chromium's binding requests there with STUN.bindingSuccess
/// until the script writes `done`. Off otherwise.
@Suite struct NegotiationChromiumTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["WEBRTC_ANSWER_DIR"] != nil))
    func answerChromiumsLiveOffers() async throws {
        let dir = URL(fileURLWithPath: try #require(ProcessInfo.processInfo.environment["WEBRTC_ANSWER_DIR"]))
        let answered = NIOLockedValueBox((requests: 0, verified: 0, useCandidate: 0))
        let ice = WebRTCAnswerTests.ice
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(BindingResponder(ice: ice, counts: answered))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        let candidates = [try #require(channel.localAddress)]

        for kind in ["whep", "whip"] {
            let text = try await waitForFile(dir.appendingPathComponent("offer-\(kind).sdp"))
            let offer = try WebRTCOffer(parsing: text)
            let answer = kind == "whep" ? try WebRTCAnswerTests.whepAnswer(offer, audio: .g711a, candidates: candidates)
                : try WebRTCAnswerTests.whipAnswer(offer, candidates: candidates)
            try answer.write(to: dir.appendingPathComponent("answer-\(kind).sdp"), atomically: true, encoding: .utf8)
        }
        _ = try await waitForFile(dir.appendingPathComponent("done"))
        let counts = answered.withLockedValue { $0 }
        try "\(counts.requests) \(counts.verified) \(counts.useCandidate)\n"
            .write(to: dir.appendingPathComponent("stun-counts"), atomically: true, encoding: .utf8)
        #expect(counts.verified > 0)
    }

    private func waitForFile(_ url: URL) async throws -> String {
        for _ in 0..<600 {
            if let text = try? String(contentsOf: url, encoding: .utf8) { return text }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw STUNError("no \(url.lastPathComponent) within 60 s")
    }
}

/// ICE-lite's whole job on a binding request: check USERNAME and MESSAGE-INTEGRITY, answer with the
/// sender's address.
private final class BindingResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let ice: ICECredentials
    let counts: NIOLockedValueBox<(requests: Int, verified: Int, useCandidate: Int)>

    init(ice: ICECredentials, counts: NIOLockedValueBox<(requests: Int, verified: Int, useCandidate: Int)>) {
        self.ice = ice
        self.counts = counts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard STUNMessage.isSTUN(envelope.data), let message = try? STUNMessage(parsing: envelope.data),
              message.messageClass == .request, message.method == STUNMessage.bindingMethod
        else { return }
        let verified = message.username?.hasPrefix(ice.ufrag + ":") == true && message.verifyIntegrity(password: ice.password)
        counts.withLockedValue {
            $0.requests += 1
            if verified { $0.verified += 1 }
            if verified && message.useCandidate { $0.useCandidate += 1 }
        }
        let reply = verified
            ? STUN.bindingSuccess(transactionID: message.transactionID, mapped: envelope.remoteAddress, password: ice.password)
            : STUN.bindingError(transactionID: message.transactionID, code: 401, reason: "Unauthorized", password: nil)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
    }
}
