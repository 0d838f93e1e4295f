import NIOCore

/// The relay's SDP answer (JSEP 5.3, RFC 8829): ICE-lite with host candidates, DTLS passive, one
/// codec per accepted m-line.
public struct WebRTCAnswer: Sendable {
    public struct Media: Sendable {
        public var mid: String
        /// nil: rejected (port 0).
        public var codec: WebRTCOffer.Codec?
        /// .sendonly (WHEP) / .recvonly (WHIP).
        public var direction: MediaDirection
        /// What the relay sends on it (WHEP), announced with cname and msid.
        public var ssrc: UInt32?

        public init(mid: String, codec: WebRTCOffer.Codec?, direction: MediaDirection, ssrc: UInt32?) {
            self.mid = mid
            self.codec = codec
            self.direction = direction
            self.ssrc = ssrc
        }
    }

    /// The answer: ice-lite, BUNDLE of the accepted mids, every offered m-line in order (rejected
    /// ones — no entry in `media` or no codec — port 0, a=mid, a=inactive, first offered format),
    /// setup:passive, fingerprint sha-256, rtcp-mux (+ rtcp-rsize when offered), each accepted
    /// codec's rtpmap/fmtp (the offered fmtp line) and feedback, ssrc lines, host candidates
    /// ("a=candidate:N 1 udp PRIORITY IP PORT typ host", IPv4/IPv6) + end-of-candidates. CRLF line ends.
    /// `cname` and `streamLabel` are reduced to SDP token characters (a stream path's '/' is not one).
    public static func render(offer: WebRTCOffer, media: [Media], ice: ICECredentials, fingerprint: String,
                              candidates: [SocketAddress], sessionID: UInt64, cname: String, streamLabel: String) -> String {
        let label = token(streamLabel)
        let cname = token(cname)
        let answers = Dictionary(media.map { ($0.mid, $0) }, uniquingKeysWith: { first, _ in first })
        let accepted = offer.media.filter { answers[$0.mid]?.codec != nil }.map(\.mid)
        // JSEP 5.2.1: a sess-id below 2^63.
        var lines = ["v=0", "o=- \(sessionID & 0x7FFF_FFFF_FFFF_FFFF) 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=ice-lite"]
        if !accepted.isEmpty {
            lines.append("a=group:BUNDLE " + accepted.joined(separator: " "))
        }
        lines.append("a=msid-semantic: WMS \(label)")
        for offered in offer.media {
            guard let answer = answers[offered.mid], let codec = answer.codec else {
                lines += ["m=\(offered.kind) 0 \(offered.proto) \(offered.formats.first ?? "0")", "c=IN IP4 0.0.0.0",
                          "a=mid:\(offered.mid)", "a=inactive"]
                continue
            }
            lines += ["m=\(offered.kind) 9 \(offered.proto) \(codec.payloadType)", "c=IN IP4 0.0.0.0",
                      "a=ice-ufrag:\(ice.ufrag)", "a=ice-pwd:\(ice.password)", "a=fingerprint:sha-256 \(fingerprint)",
                      "a=setup:passive", "a=mid:\(offered.mid)", "a=\(answer.direction.rawValue)", "a=rtcp-mux"]
            if offered.rtcpRsize { lines.append("a=rtcp-rsize") }
            let channels = codec.channels.map { "/\($0)" } ?? ""
            lines.append("a=rtpmap:\(codec.payloadType) \(codec.name)/\(codec.clockRate)\(channels)")
            if let fmtp = codec.fmtpLine { lines.append("a=fmtp:\(codec.payloadType) \(fmtp)") }
            lines += CodecNegotiation.feedback(for: codec).map { "a=rtcp-fb:\(codec.payloadType) \($0)" }
            if let ssrc = answer.ssrc {
                let track = "\(label)-\(offered.kind)"
                lines += ["a=msid:\(label) \(track)", "a=ssrc:\(ssrc) cname:\(cname)", "a=ssrc:\(ssrc) msid:\(label) \(track)"]
            }
            lines += candidateLines(candidates)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Host candidates, the first preferred (RFC 8445 5.1.2.1: type preference 126, local
    /// preference falling with the position, component 1).
    private static func candidateLines(_ candidates: [SocketAddress]) -> [String] {
        var lines: [String] = []
        for (index, address) in candidates.enumerated() {
            guard let ip = address.ipAddress, let port = address.port else { continue }
            let localPreference = UInt32(65535 - min(index, 65535))
            let priority = UInt32(126) << 24 | localPreference << 8 | 255
            lines.append("a=candidate:\(index + 1) 1 udp \(priority) \(ip) \(port) typ host")
        }
        lines.append("a=end-of-candidates")
        return lines
    }

    /// RFC 8866 token characters only (at most 64), others replaced by '-'; never empty.
    private static func token(_ text: String) -> String {
        let allowed = Set("!#$%&'*+-.^_`{|}~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        let bytes = text.utf8.prefix(64).map { allowed.contains($0) ? $0 : UInt8(ascii: "-") }
        return bytes.isEmpty ? "-" : String(decoding: bytes, as: UTF8.self)
    }
}
