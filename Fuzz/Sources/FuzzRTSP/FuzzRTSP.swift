import FuzzSupport
import NIOCore
import NIOEmbedded
@testable import RelayRTSP
import RelayCore

/// The RTSP listener's pipeline: RequestHeadGuard and RTSPFrameDecoder in its
/// ByteToMessageHandler, with the server's default header bound, in arbitrary reads; then what
/// RTSPServerHandler parses out of each request: the request URI (RTSPTarget), the Transport
/// header (RTSPTransport), the Session header, and the response it echoes (CSeq).
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        let maxHead = 4096
        let channel = requestChannel(protocolName: "rtsp", maxHead: maxHead,
                                     tooLargeResponse: "RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n",
                                     decoder: RTSPFrameDecoder(maxHeadBytes: maxHead))
        feed(channel, input, as: RTSPFrame.self) { frame in
            switch frame {
            case .request(let request):
                invariant(request.body.readableBytes <= RTSPFrameDecoder.defaultMaxBodyBytes, "body of \(request.body.readableBytes)")
                invariant(request.uri.utf8.count <= maxHead, "URI longer than the head")
                if let target = RTSPTarget(uri: request.uri) {
                    invariant(isValidStreamID(target.streamID), "RTSPTarget accepted stream id \(target.streamID)")
                }
                if let transport = request.headers["Transport"] {
                    _ = RTSPTransport.parse(transport, defaultChannels: (0, 1))
                }
                _ = request.headers["Session"].map { $0.split(separator: ";").first.map { $0.trimmingSpaces } ?? "" }
                let response = RTSPResponse(200, headers: [("Public", "OPTIONS")]).encoded(cseq: request.cseq, session: "1")
                // The echoed CSeq must not open a new header or response.
                let text = String(buffer: response)
                invariant(text.components(separatedBy: "\r\n\r\n").count == 2 && !text.contains("\n\n"), "response split: \(text)")
            case .interleaved(_, let payload):
                invariant(payload.readableBytes <= 65535, "interleaved frame of \(payload.readableBytes)")
            case .response:
                break
            }
        }
    }
}
