import Logging
import NIOCore
import RelayCore

/// The HTTP answers of WHEP and WHIP. The players' port adds `Access-Control-Allow-Origin`
/// (`http_flv.cors`); these add what a cross-origin page also needs (the Location header, the
/// preflight's methods and headers).
enum WebRTCAnswers {
    static let cors = [("Access-Control-Expose-Headers", "Location")]

    static func text(_ status: Int, _ body: String, headers: [(String, String)] = []) -> HTTPAnswer {
        HTTPAnswer(status: status, contentType: "text/plain; charset=utf-8", buffers: [ByteBuffer(string: body)],
                   headers: cors + headers)
    }

    static var preflight: HTTPAnswer {
        HTTPAnswer(status: 204, contentType: "text/plain", buffers: [], headers: cors + [
            ("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS"),
            ("Access-Control-Allow-Headers", "Content-Type, Authorization"),
            ("Access-Control-Max-Age", "86400"),
        ])
    }

    static func created(_ sdp: String, location: String) -> HTTPAnswer {
        HTTPAnswer(status: 201, contentType: "application/sdp", buffers: [ByteBuffer(string: sdp)],
                   headers: cors + [("Location", location), ("Cache-Control", "no-store")])
    }

    static func refused(_ refusal: PlayRefusal, info: SessionInfo, logger: Logger) -> HTTPAnswer {
        switch refusal {
        case .invalidStreamID:
            return text(400, "bad stream id\n")
        case .denied(let decision):
            logger.warning("WHEP play from \(info.remoteAddress) refused: \(refusal)")
            return text(decision.deniedHTTPStatus == 401 ? 401 : 403, "play denied: \(decision.reason)\n")
        case .notFound(let id):
            logger.info("WHEP play of unknown stream \(id) from \(info.remoteAddress)")
            return text(404, "stream not found\n")
        }
    }

    static func refused(_ refusal: PublishRefusal, info: SessionInfo, logger: Logger) -> HTTPAnswer {
        logger.warning("WHIP publish from \(info.remoteAddress) refused: \(refusal)")
        switch refusal {
        case .invalidStreamID: return text(400, "bad stream id\n")
        case .denied(let reason): return text(403, "publish denied: \(reason)\n")
        case .busy: return text(409, "the stream is being published\n")
        case .tooManyStreams, .memoryExhausted: return text(503, "\(refusal)\n")
        }
    }
}
