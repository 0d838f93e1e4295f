import RelayCore
import Testing
@testable import RelayWebRTC

@Suite struct CodecNegotiationTests {
    let whep: WebRTCOffer
    let whip: WebRTCOffer

    init() throws {
        whep = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        whip = try WebRTCOffer(parsing: ChromeOffers.sendonly)
    }

    /// Chromium offers H.264 profiles 42 (Baseline), 42e0 (Constrained Baseline), 4d (Main) and f4
    /// (High 4:4:4), each with packetization-mode 0 and 1: the source's profile_idc wins, then 42e01f.
    @Test func whepVideoFollowsTheSourceProfile() {
        let video = whep.media[0]
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: "64001f")?.payloadType == 108)
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: nil)?.payloadType == 108)
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: "42c01e")?.payloadType == 102)
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: "4D0028")?.payloadType == 116)
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: "f4001f")?.payloadType == 41)
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: "zz")?.payloadType == 108)
        // This Chromium offers no H.265.
        #expect(CodecNegotiation.forSending(video, codec: .h265, profileLevelID: nil) == nil)
        // Audio codecs on the video line, video on the audio line.
        #expect(CodecNegotiation.forSending(video, codec: .g711a, profileLevelID: nil) == nil)
        #expect(CodecNegotiation.forSending(whep.media[1], codec: .h264, profileLevelID: nil) == nil)
    }

    @Test func whepAudioIsG711Only() {
        let audio = whep.media[1]
        #expect(CodecNegotiation.forSending(audio, codec: .g711a, profileLevelID: nil)?.payloadType == 8)
        #expect(CodecNegotiation.forSending(audio, codec: .g711u, profileLevelID: nil)?.payloadType == 0)
        #expect(CodecNegotiation.forSending(audio, codec: .aac, profileLevelID: nil) == nil)
        #expect(CodecNegotiation.forSending(audio, codec: .opus, profileLevelID: nil) == nil)
    }

    @Test func whepNeedsALineTheBrowserReceivesOn() {
        #expect(CodecNegotiation.forSending(whip.media[1], codec: .h264, profileLevelID: nil) == nil)
    }

    @Test func h265AndPacketizationModeZero() throws {
        var video = whep.media[0]
        video.codecs = video.codecs.filter { $0.fmtp["packetization-mode"] != "1" }
        #expect(CodecNegotiation.forSending(video, codec: .h264, profileLevelID: nil) == nil)
        #expect(CodecNegotiation.forReceiving(WebRTCOfferTests.sending(video)) == nil)
        let h265 = WebRTCOffer.Codec(payloadType: 49, name: "H265", clockRate: 90000, channels: nil, fmtp: ["profile-id": "1"],
                                     fmtpLine: "profile-id=1", feedback: ["nack"])
        video.codecs.append(h265)
        #expect(CodecNegotiation.forSending(video, codec: .h265, profileLevelID: nil) == h265)
        #expect(CodecNegotiation.forReceiving(WebRTCOfferTests.sending(video)) == h265)
    }

    @Test func whipPrefersConstrainedBaselineAndPCMA() {
        #expect(CodecNegotiation.forReceiving(whip.media[1])?.payloadType == 108)
        #expect(CodecNegotiation.forReceiving(whip.media[0])?.payloadType == 8)
        var audio = whip.media[0]
        audio.codecs.removeAll { $0.name == "PCMA" }
        #expect(CodecNegotiation.forReceiving(audio)?.payloadType == 0)
        audio.codecs.removeAll { $0.name == "PCMU" }
        #expect(CodecNegotiation.forReceiving(audio) == nil)  // Opus refused
        var video = whip.media[1]
        video.codecs.removeAll { $0.fmtp["profile-level-id"] == "42e01f" }
        #expect(CodecNegotiation.forReceiving(video)?.payloadType == 102)
        // A recvonly line sends the relay nothing.
        #expect(CodecNegotiation.forReceiving(whep.media[0]) == nil)
    }

    @Test func feedbackIsWhatTheRelayImplements() throws {
        let h264 = try #require(whep.media[0].codecs.first { $0.payloadType == 108 })
        #expect(CodecNegotiation.feedback(for: h264) == ["goog-remb", "ccm fir", "nack", "nack pli"])
        let opus = try #require(whep.media[1].codecs.first)
        #expect(CodecNegotiation.feedback(for: opus).isEmpty)
        var odd = h264
        odd.feedback = ["NACK  PLI", "nack", "nack", "transport-cc", "ccm tmmbr"]
        #expect(CodecNegotiation.feedback(for: odd) == ["nack pli", "nack"])
    }
}

extension WebRTCOfferTests {
    /// `media` as a browser that publishes would offer it.
    static func sending(_ media: WebRTCOffer.Media) -> WebRTCOffer.Media {
        var media = media
        media.direction = .sendonly
        return media
    }
}
