import FuzzSupport
import NIOCore
import RelayCore
import RelayRTP
@testable import RelayWebRTC

/// What a WebRTC peer sends before any crypto, and the feedback it sends after: first byte
/// picks the parser, the rest is its input.
/// - 0: a STUN message (parse, integrity against a fixed password, our success answer to it);
/// - 1: an SDP offer (parse, both negotiations against an H.264 + G.711 stream, the answer
///   rendered and read back);
/// - 2: a compound RTCP packet (the feedback a viewer sends).
@main
enum FuzzerMain: FuzzTarget {
    static let streams: [AVStream] = {
        let sps = ByteBuffer(bytes: [0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9, 0x40, 0x50, 0x05, 0xBB, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xC0, 0xF1, 0x83, 0x19, 0x60])
        let pps = ByteBuffer(bytes: [0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0])
        var streams = [AVStream.g711(.g711a, index: 1, timebase: 1000)]
        if let video = try? AVStream.h264(index: 0, timebase: 1000, sps: [sps], pps: [pps]) { streams.insert(video, at: 0) }
        return streams
    }()
    static let candidates = [try? SocketAddress(ipAddress: "127.0.0.1", port: 8189)].compactMap { $0 }

    static func fuzz(_ input: [UInt8]) {
        guard let selector = input.first else { return }
        let body = ByteBuffer(bytes: input.dropFirst())
        switch selector % 3 {
        case 0:
            guard STUNMessage.isSTUN(body), let message = try? STUNMessage(parsing: body) else { return }
            _ = message.verifyIntegrity(password: "0123456789abcdefABCDEF")
            if let peer = candidates.first, message.transactionID.count == 12 {
                let answer = STUN.bindingSuccess(transactionID: message.transactionID, mapped: peer, password: "pw")
                invariant(STUNMessage.isSTUN(answer), "our binding answer is not STUN")
            }
        case 1:
            guard let offer = try? WebRTCOffer(parsing: String(decoding: input.dropFirst(), as: UTF8.self)) else { return }
            let play = WebRTCNegotiation.play(offer, streams: streams)
            let publish = WebRTCNegotiation.publish(offer)
            invariant(play.answers.count == offer.media.count && publish.answers.count == offer.media.count,
                      "an answer per offered m-line")
            let sdp = WebRTCAnswer.render(offer: offer, media: play.answers, ice: ICECredentials.random(),
                                          fingerprint: "AB:CD", candidates: candidates, sessionID: 1, cname: "c", streamLabel: "s")
            invariant((try? SessionDescription(parsing: sdp)) != nil, "our answer does not parse")
        default:
            let feedback = RTCP.feedback(in: body)
            invariant(feedback.count <= 64 * 16, "bounded feedback")
        }
    }
}
