import NIOCore
import RelayRTP
import RelayWebRTC

/// The SDP offer of a relay-bench WHEP viewer, what a browser's recvonly offer boils down to:
/// H.264 Constrained Baseline (packetization-mode 1, NACK and PLI) as PT 102, PCMA and PCMU,
/// one BUNDLE, rtcp-mux, DTLS client (`setup:active`), no candidates (the server is ICE-lite and
/// learns our address from our STUN checks).
enum WHEPOffer {
    static let videoPayloadType: UInt8 = 102

    static func render(ice: ICECredentials, fingerprint: String, sessionID: UInt64) -> String {
        let transport = [
            "c=IN IP4 0.0.0.0",
            "a=ice-ufrag:\(ice.ufrag)",
            "a=ice-pwd:\(ice.password)",
            "a=fingerprint:sha-256 \(fingerprint)",
            "a=setup:active",
        ]
        let lines = [
            "v=0",
            "o=- \(sessionID) 2 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            "a=group:BUNDLE 0 1",
            "m=video 9 UDP/TLS/RTP/SAVPF \(videoPayloadType)",
        ] + transport + [
            "a=mid:0",
            "a=recvonly",
            "a=rtcp-mux",
            "a=rtpmap:\(videoPayloadType) H264/90000",
            "a=rtcp-fb:\(videoPayloadType) nack",
            "a=rtcp-fb:\(videoPayloadType) nack pli",
            "a=fmtp:\(videoPayloadType) level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            "m=audio 9 UDP/TLS/RTP/SAVPF 8 0",
        ] + transport + [
            "a=mid:1",
            "a=recvonly",
            "a=rtcp-mux",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:0 PCMU/8000",
        ]
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

/// What a viewer needs of the server's answer: its ICE credentials and DTLS fingerprint, the
/// payload types it chose, and where to send (the first host candidate).
struct WHEPAnswer {
    var ice: ICECredentials
    var fingerprint: String
    var videoPayloadType: UInt8?
    var audioPayloadType: UInt8?
    var candidate: SocketAddress

    init(parsing text: String) throws {
        let answer: WebRTCOffer
        let sdp: SessionDescription
        do {
            answer = try WebRTCOffer(parsing: text)
            sdp = try SessionDescription(parsing: text)
        } catch {
            throw WHEPError("bad SDP answer: \(error)")
        }
        ice = answer.ice
        fingerprint = answer.fingerprint
        let accepted = answer.media.filter { $0.port != 0 && $0.direction != .inactive }
        videoPayloadType = accepted.first { $0.kind == "video" }?.codecs.first?.payloadType
        audioPayloadType = accepted.first { $0.kind == "audio" }?.codecs.first {
            $0.name == "PCMA" || $0.name == "PCMU"
        }?.payloadType
        let values = sdp.attributes.filter { $0.name == "candidate" }.compactMap(\.value) + sdp.media.flatMap { $0.attributes("candidate") }
        // "foundation component transport priority address port typ host"
        guard let address = values.lazy.compactMap(Self.hostCandidate).first else {
            throw WHEPError("answer has no UDP host candidate")
        }
        candidate = address
    }

    private static func hostCandidate(_ value: String) -> SocketAddress? {
        let f = value.split(separator: " ")
        guard f.count >= 8, f[2].lowercased() == "udp", f[6] == "typ", let port = Int(f[5]) else { return nil }
        return try? SocketAddress(ipAddress: String(f[4]), port: port)
    }
}
