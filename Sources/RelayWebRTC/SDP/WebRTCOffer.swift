import RelayRTP

public enum MediaDirection: String, Sendable { case sendrecv, sendonly, recvonly, inactive }

/// A browser's WebRTC offer (JSEP, RFC 8829) read for what the relay answers: the peer's ICE
/// credentials and DTLS fingerprint, BUNDLE, and each m-line's codecs with their fmtp and feedback.
public struct WebRTCOffer: Sendable {
    public struct Codec: Sendable, Equatable {
        public var payloadType: UInt8
        /// Uppercased: "H264", "H265", "PCMA", "PCMU", "OPUS", "VP8", "RTX" …
        public var name: String
        public var clockRate: Int
        public var channels: Int?
        /// Keys lowercased ("packetization-mode", "profile-level-id", "apt").
        public var fmtp: [String: String]
        /// As offered, for echoing in the answer.
        public var fmtpLine: String?
        /// a=rtcp-fb values for this PT (and "*"), e.g. "nack", "nack pli", "ccm fir", "goog-remb", "transport-cc".
        public var feedback: [String]
    }

    public struct Media: Sendable {
        /// Position in the offer.
        public var index: Int
        public var mid: String
        /// "video" / "audio" / other.
        public var kind: String
        public var direction: MediaDirection
        /// In offer order; formats without an rtpmap other than the static PCMU (0) and PCMA (8) are left out.
        public var codecs: [Codec]
        public var rtcpMux: Bool
        public var rtcpRsize: Bool
        /// a=ssrc ids (first = primary: the first of an ssrc-group:FID), for WHIP.
        public var ssrcs: [UInt32]
        public var port: Int
        public var proto: String
        public var formats: [String]
    }

    /// The peer's (session or media level).
    public var ice: ICECredentials
    /// The sha-256 value (hex pairs); other algorithms -> error.
    public var fingerprint: String
    /// "actpass" / "active" / "passive"; absent means "active" (RFC 4145 4).
    public var setup: String
    /// Mids of a=group:BUNDLE.
    public var bundle: [String]
    public var media: [Media]

    /// Errors: no ice-ufrag/ice-pwd, no sha-256 fingerprint, no media, a media without mid (or a
    /// repeated one), a setup other than actpass/active/passive.
    public init(parsing text: String) throws(SDPError) {
        let sdp = try SessionDescription(parsing: text)
        guard !sdp.media.isEmpty else { throw SDPError("the offer has no media") }
        /// Session level first, then the first media section that has it (BUNDLE makes them equal).
        func value(_ name: String) -> String? {
            sdp.attributes.first { $0.name == name }?.value ?? sdp.media.lazy.compactMap { $0.attribute(name) }.first
        }
        guard let ufrag = value("ice-ufrag"), let password = value("ice-pwd") else {
            throw SDPError("the offer has no a=ice-ufrag/a=ice-pwd")
        }
        guard ICECredentials.isValid(ufrag: ufrag, password: password) else {
            throw SDPError("ice-ufrag/ice-pwd not 4/22 to 256 ice-chars")
        }
        ice = ICECredentials(ufrag: ufrag, password: password)

        let fingerprints = sdp.attributes.compactMap { $0.name == "fingerprint" ? $0.value : nil }
            + sdp.media.flatMap { $0.attributes("fingerprint") }
        guard let sha256 = fingerprints.lazy.compactMap(Self.sha256).first else {
            throw SDPError("the offer has no a=fingerprint:sha-256")
        }
        fingerprint = sha256

        setup = value("setup")?.lowercased() ?? "active"
        guard ["actpass", "active", "passive"].contains(setup) else { throw SDPError("a=setup:\(setup.prefix(20))") }

        bundle = sdp.attributes.compactMap { $0.name == "group" ? $0.value : nil }
            .lazy.map { $0.split(separator: " ").map(String.init) }
            .first { $0.first == "BUNDLE" }.map { Array($0.dropFirst()) } ?? []

        let sessionDirection = sdp.attributes.lazy.compactMap { MediaDirection(rawValue: $0.name) }.last
        var mids = Set<String>()
        media = []
        for (index, section) in sdp.media.enumerated() {
            guard let mid = section.attribute("mid"), !mid.isEmpty else { throw SDPError("m-line \(index) has no a=mid") }
            guard mids.insert(mid).inserted else { throw SDPError("a=mid:\(mid.prefix(32)) twice") }
            media.append(Media(
                index: index, mid: mid, kind: section.kind,
                direction: section.attributes.lazy.compactMap { MediaDirection(rawValue: $0.name) }.last
                    ?? sessionDirection ?? .sendrecv,
                codecs: Self.codecs(section), rtcpMux: section.has("rtcp-mux"), rtcpRsize: section.has("rtcp-rsize"),
                ssrcs: Self.ssrcs(section), port: section.port, proto: section.proto, formats: section.formats))
        }
    }

    /// "sha-256 AB:CD:…" -> "AB:CD:…" when it is 32 hex pairs.
    private static func sha256(_ value: String) -> String? {
        let parts = value.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "sha-256" else { return nil }
        let pairs = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        guard pairs.count == 32, pairs.allSatisfy({ $0.utf8.count == 2 && UInt8($0, radix: 16) != nil }) else { return nil }
        return parts[1].uppercased()
    }

    private static func codecs(_ section: SessionDescription.Media) -> [Codec] {
        func byPayload(_ name: String) -> [(UInt8, String)] {
            section.attributes(name).compactMap { value in
                let parts = value.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let pt = UInt8(parts[0]), pt < 128 else { return nil }
                return (pt, String(parts[1]))
            }
        }
        let rtpmaps = Dictionary(byPayload("rtpmap"), uniquingKeysWith: { first, _ in first })
        let fmtps = Dictionary(byPayload("fmtp"), uniquingKeysWith: { first, _ in first })
        let feedback = Dictionary(grouping: byPayload("rtcp-fb"), by: { $0.0 }).mapValues { $0.map(\.1) }
        let anyFeedback = section.attributes("rtcp-fb").compactMap { $0.hasPrefix("* ") ? String($0.dropFirst(2)) : nil }
        return section.formats.compactMap { format -> Codec? in
            guard let pt = UInt8(format), pt < 128 else { return nil }
            let (name, clockRate, channels): (String, Int, Int?)
            if let rtpmap = rtpmaps[pt] {
                let parts = rtpmap.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count >= 2, !parts[0].isEmpty, let rate = Int(parts[1]), rate > 0 else { return nil }
                (name, clockRate) = (parts[0].uppercased(), rate)
                channels = parts.count > 2 ? Int(parts[2]) : nil
            } else if pt == 0 || pt == 8 {
                // RFC 3551 static types the relay carries; browsers map them anyway.
                (name, clockRate, channels) = (pt == 0 ? "PCMU" : "PCMA", 8000, nil)
            } else {
                return nil
            }
            let line = fmtps[pt]
            return Codec(payloadType: pt, name: name, clockRate: clockRate, channels: channels,
                         fmtp: line.map(Self.parameters) ?? [:], fmtpLine: line,
                         feedback: (feedback[pt] ?? []) + anyFeedback)
        }
    }

    /// "a=1;b=2" -> ["a": "1", "b": "2"]; entries without '=' (red's "111/111") are left out.
    private static func parameters(_ line: String) -> [String: String] {
        var result: [String: String] = [:]
        for entry in line.split(separator: ";") {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            let key = entry[..<equals].trimmingSpaces.lowercased()
            if result[key] == nil { result[key] = String(entry[entry.index(after: equals)...].trimmingSpaces) }
        }
        return result
    }

    /// Ids of a=ssrc in order of appearance, the primary of an ssrc-group:FID first.
    private static func ssrcs(_ section: SessionDescription.Media) -> [UInt32] {
        var ids: [UInt32] = []
        for value in section.attributes("ssrc") {
            guard let id = value.split(separator: " ").first.flatMap({ UInt32($0) }), !ids.contains(id) else { continue }
            ids.append(id)
        }
        let fid = section.attributes("ssrc-group").lazy.map { $0.split(separator: " ") }.first { $0.first == "FID" }
        if let primary = fid?.dropFirst().first.flatMap({ UInt32($0) }), let at = ids.firstIndex(of: primary), at > 0 {
            ids.remove(at: at)
            ids.insert(primary, at: 0)
        }
        return ids
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var trimmed = self
        while trimmed.first == " " || trimmed.first == "\t" { trimmed.removeFirst() }
        while trimmed.last == " " || trimmed.last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
