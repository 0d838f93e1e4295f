import RelayRTP
import Testing
@testable import RelayWebRTC

@Suite struct WebRTCOfferTests {
    @Test func chromeWHEPOffer() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        #expect(offer.ice == ICECredentials(ufrag: "7hUs", password: "w+wWzrEtHsLnBovJp/4h1u0f"))
        #expect(offer.fingerprint.hasPrefix("E8:DD:7D:DB:") && offer.fingerprint.count == 95)
        #expect(offer.setup == "actpass")
        #expect(offer.bundle == ["0", "1"])
        #expect(offer.media.map(\.mid) == ["0", "1"])
        #expect(offer.media.map(\.index) == [0, 1])
        let video = offer.media[0]
        #expect(video.kind == "video" && video.direction == .recvonly && video.rtcpMux && video.rtcpRsize)
        #expect(video.codecs.count == 34 && video.ssrcs.isEmpty)
        #expect(video.codecs.map(\.payloadType).prefix(3) == [96, 97, 98])
        let h264 = try #require(video.codecs.first { $0.payloadType == 108 })
        #expect(h264.name == "H264" && h264.clockRate == 90000 && h264.channels == nil)
        #expect(h264.fmtp == ["level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42e01f"])
        #expect(h264.fmtpLine == "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
        #expect(h264.feedback == ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"])
        #expect(video.codecs.first { $0.payloadType == 109 }?.fmtp["apt"] == "108")
        #expect(video.codecs.first { $0.payloadType == 109 }?.name == "RTX")
        #expect(!video.codecs.contains { $0.name == "H265" })
        let audio = offer.media[1]
        #expect(audio.codecs.map(\.name) == ["OPUS", "RED", "G722", "PCMU", "PCMA", "CN", "TELEPHONE-EVENT", "TELEPHONE-EVENT"])
        #expect(audio.codecs[0].channels == 2 && audio.codecs[0].clockRate == 48000)
        #expect(audio.codecs[0].fmtp == ["minptime": "10", "useinbandfec": "1"])
        #expect(audio.codecs[1].fmtp.isEmpty && audio.codecs[1].fmtpLine == "111/111")
        #expect(audio.codecs[4] == WebRTCOffer.Codec(payloadType: 8, name: "PCMA", clockRate: 8000, channels: nil, fmtp: [:],
                                                      fmtpLine: nil, feedback: []))
    }

    @Test func chromeWHIPOffer() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.sendonly.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(offer.ice.ufrag == "U1LU")
        #expect(offer.media.map(\.mid) == ["0", "1"] && offer.media.map(\.kind) == ["audio", "video"])
        #expect(offer.media.allSatisfy { $0.direction == .sendonly })
        #expect(offer.media[0].ssrcs == [2_264_003_389])
        #expect(offer.media[1].ssrcs == [459_484_337, 1_070_483_725])
        #expect(offer.media[1].codecs.filter { $0.name == "H264" }.map(\.payloadType) == [102, 104, 108, 114, 116, 39])
    }

    @Test func staticPayloadTypesWithoutRtpmapAndFID() throws {
        let offer = try WebRTCOffer(parsing: """
            v=0
            a=ice-ufrag:abcd
            a=ice-pwd:abcdefghijklmnopqrstuv
            a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33
            a=fingerprint:sha-256 \(Self.fingerprint.lowercased())
            a=sendonly
            m=audio 9 UDP/TLS/RTP/SAVPF 0 8 3
            a=mid:audio
            a=rtcp-fb:* nack
            a=ssrc:7 cname:x
            a=ssrc:5 cname:x
            a=ssrc-group:FID 5 7
            """)
        #expect(offer.fingerprint == Self.fingerprint)
        #expect(offer.setup == "active" && offer.bundle.isEmpty)
        let audio = offer.media[0]
        #expect(audio.direction == .sendonly)
        #expect(audio.codecs.map(\.name) == ["PCMU", "PCMA"])
        #expect(audio.codecs[0].feedback == ["nack"])
        #expect(audio.ssrcs == [5, 7])
    }

    static let fingerprint = "E8:DD:7D:DB:54:A8:80:B8:46:00:FA:1E:EA:13:1E:B8:BF:B0:58:2B:BA:1A:0C:CB:0E:2E:75:C3:52:48:CC:17"

    @Test func refusesOffersWithoutWhatTheAnswerNeeds() {
        func without(_ prefix: String) -> String {
            ChromeOffers.recvonly.split(separator: "\n").filter { !$0.hasPrefix(prefix) }.joined(separator: "\n")
        }
        for missing in ["a=ice-ufrag", "a=ice-pwd", "a=fingerprint", "a=mid", "m="] {
            #expect(throws: SDPError.self, "\(missing)") { try WebRTCOffer(parsing: without(missing)) }
        }
        let sha1 = ChromeOffers.recvonly.replacingOccurrences(of: "sha-256", with: "sha-1")
        #expect(throws: SDPError.self) { try WebRTCOffer(parsing: sha1) }
        let shortPair = ChromeOffers.recvonly.replacingOccurrences(of: "sha-256 E8:DD", with: "sha-256 E8:D")
        #expect(throws: SDPError.self) { try WebRTCOffer(parsing: shortPair) }
        let sameMid = ChromeOffers.recvonly.replacingOccurrences(of: "a=mid:1", with: "a=mid:0")
        #expect(throws: SDPError.self) { try WebRTCOffer(parsing: sameMid) }
        let shortPassword = ChromeOffers.recvonly.replacingOccurrences(of: "a=ice-pwd:w+wWzrEtHsLnBovJp/4h1u0f",
                                                                      with: "a=ice-pwd:short")
        #expect(throws: SDPError.self) { try WebRTCOffer(parsing: shortPassword) }
        let setup = ChromeOffers.recvonly.replacingOccurrences(of: "a=setup:actpass", with: "a=setup:holdconn")
        #expect(throws: SDPError.self) { try WebRTCOffer(parsing: setup) }
    }
}
