import RelayCore

/// Which of an m-line's offered codecs the relay answers with: it passes media through without
/// transcoding, so the choice follows the source (WHEP) or what the outputs can carry (WHIP).
public enum CodecNegotiation {
    /// WHEP (the relay sends): for a video m-line and an H.264 source, the offered H264 payload with
    /// packetization-mode=1 whose profile-level-id profile_idc equals the source's
    /// (`profileLevelID`: 6 hex chars from the SPS, e.g. "64001f"), else 42e01f, else any
    /// packetization-mode=1 — browsers decode High sent on a Baseline payload type, the profile is
    /// only a hint to their decoder choice; H.265 source: an offered H265 payload. Audio: PCMA for
    /// .g711a, PCMU for .g711u. The m-line must let the browser receive (recvonly/sendrecv).
    /// nil: reject the m-line.
    public static func forSending(_ media: WebRTCOffer.Media, codec: CodecID, profileLevelID: String?) -> WebRTCOffer.Codec? {
        guard media.direction == .recvonly || media.direction == .sendrecv else { return nil }
        switch (media.kind, codec) {
        case ("video", .h264):
            let offered = media.codecs.filter(isH264Mode1)
            let profile = profileLevelID.flatMap(profileIDC)
            return offered.first { profile != nil && profileIDC(of: $0) == profile }
                ?? offered.first { offeredProfile(of: $0) == "42e01f" }
                ?? offered.first
        case ("video", .h265):
            return media.codecs.first { $0.name == "H265" }
        case ("audio", .g711a):
            return media.codecs.first(where: isG711("PCMA"))
        case ("audio", .g711u):
            return media.codecs.first(where: isG711("PCMU"))
        default:
            return nil
        }
    }

    /// WHIP (the relay receives): video H264 packetization-mode=1 (prefer 42e01f, then 42001f,
    /// 4d001f, any), else H265; audio PCMA, then PCMU (Opus is refused: the relay has no Opus
    /// decoder for RTMP/FLV outputs). The m-line must let the browser send (sendonly/sendrecv).
    /// nil: reject.
    public static func forReceiving(_ media: WebRTCOffer.Media) -> WebRTCOffer.Codec? {
        guard media.direction == .sendonly || media.direction == .sendrecv else { return nil }
        switch media.kind {
        case "video":
            let h264 = media.codecs.filter(isH264Mode1)
            for preferred in ["42e01f", "42001f", "4d001f"] {
                if let codec = h264.first(where: { offeredProfile(of: $0) == preferred }) { return codec }
            }
            return h264.first ?? media.codecs.first { $0.name == "H265" }
        case "audio":
            return media.codecs.first(where: isG711("PCMA")) ?? media.codecs.first(where: isG711("PCMU"))
        default:
            return nil
        }
    }

    /// The rtcp-fb values the relay implements, of those offered for `codec`: "nack", "nack pli",
    /// "ccm fir", "goog-remb" (never transport-cc: the relay sends no transport-wide feedback).
    public static func feedback(for codec: WebRTCOffer.Codec) -> [String] {
        var result: [String] = []
        for value in codec.feedback {
            let normalized = value.lowercased().split(separator: " ").joined(separator: " ")
            if implementedFeedback.contains(normalized), !result.contains(normalized) { result.append(normalized) }
        }
        return result
    }

    private static let implementedFeedback: Set<String> = ["nack", "nack pli", "ccm fir", "goog-remb"]

    private static func isH264Mode1(_ codec: WebRTCOffer.Codec) -> Bool {
        codec.name == "H264" && codec.clockRate == 90000 && codec.fmtp["packetization-mode"] == "1"
    }

    private static func isG711(_ name: String) -> (WebRTCOffer.Codec) -> Bool {
        { $0.name == name && $0.clockRate == 8000 && ($0.channels ?? 1) == 1 }
    }

    /// The offered profile-level-id, lowercased, when it is 6 hex digits.
    private static func offeredProfile(of codec: WebRTCOffer.Codec) -> String? {
        guard let id = codec.fmtp["profile-level-id"], id.utf8.count == 6, UInt32(id, radix: 16) != nil else { return nil }
        return id.lowercased()
    }

    private static func profileIDC(of codec: WebRTCOffer.Codec) -> UInt8? {
        offeredProfile(of: codec).flatMap(profileIDC)
    }

    /// The first byte (profile_idc) of a 6-hex-digit profile-level-id.
    private static func profileIDC(_ profileLevelID: String) -> UInt8? {
        guard profileLevelID.utf8.count == 6 else { return nil }
        return UInt8(profileLevelID.prefix(2), radix: 16)
    }
}
