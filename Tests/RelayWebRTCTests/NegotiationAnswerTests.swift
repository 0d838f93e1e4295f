import NIOCore
import RelayCore
import RelayRTP
import Testing
@testable import RelayWebRTC

@Suite struct WebRTCAnswerTests {
    static let ice = ICECredentials(ufrag: "RelayUfr", password: "RelayPasswordOf24chars+/")
    static let fingerprint = WebRTCOfferTests.fingerprint

    static func candidates() throws -> [SocketAddress] {
        [try SocketAddress(ipAddress: "192.0.2.10", port: 8189), try SocketAddress(ipAddress: "2001:db8::10", port: 8189)]
    }

    /// WHEP for an H.264 + AAC source: video answered on 108, audio rejected.
    static func whepAnswer(_ offer: WebRTCOffer, audio: CodecID = .aac, candidates: [SocketAddress]? = nil) throws -> String {
        let media = offer.media.map { line in
            let codec = line.kind == "video" ? CodecNegotiation.forSending(line, codec: .h264, profileLevelID: "64001f")
                : CodecNegotiation.forSending(line, codec: audio, profileLevelID: nil)
            let ssrc: UInt32 = line.kind == "video" ? 0x1234_5678 : 0x0BAD_CAFE
            return WebRTCAnswer.Media(mid: line.mid, codec: codec, direction: .sendonly, ssrc: ssrc)
        }
        return WebRTCAnswer.render(offer: offer, media: media, ice: ice, fingerprint: fingerprint,
                                   candidates: try candidates ?? Self.candidates(),
                                   sessionID: .max, cname: "relay", streamLabel: "live/cam 1")
    }

    static func whipAnswer(_ offer: WebRTCOffer, candidates: [SocketAddress]? = nil) throws -> String {
        let media = offer.media.map {
            WebRTCAnswer.Media(mid: $0.mid, codec: CodecNegotiation.forReceiving($0), direction: .recvonly, ssrc: nil)
        }
        return WebRTCAnswer.render(offer: offer, media: media, ice: ice, fingerprint: fingerprint,
                                   candidates: try candidates ?? Self.candidates(),
                                   sessionID: 42, cname: "relay", streamLabel: "live/cam")
    }

    @Test func whepAnswerRejectsAACAndReparses() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        let text = try Self.whepAnswer(offer)
        #expect(text.hasSuffix("\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(text.contains("o=- 9223372036854775807 2 IN IP4 127.0.0.1\r\n"))

        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.attributes.contains(.init(name: "ice-lite", value: nil)))
        #expect(sdp.attributes.contains(.init(name: "group", value: "BUNDLE 0")))
        #expect(sdp.media.map(\.kind) == ["video", "audio"])
        let video = sdp.media[0]
        #expect(video.port == 9 && video.proto == "UDP/TLS/RTP/SAVPF" && video.formats == ["108"])
        #expect(video.attribute("setup") == "passive" && video.attribute("mid") == "0" && video.has("sendonly"))
        #expect(video.attribute("ice-ufrag") == "RelayUfr" && video.attribute("ice-pwd") == "RelayPasswordOf24chars+/")
        #expect(video.attribute("fingerprint") == "sha-256 " + Self.fingerprint)
        #expect(video.has("rtcp-mux") && video.has("rtcp-rsize"))
        #expect(video.attributes("rtpmap") == ["108 H264/90000"])
        #expect(video.attributes("fmtp") == ["108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"])
        #expect(video.attributes("rtcp-fb") == ["108 goog-remb", "108 ccm fir", "108 nack", "108 nack pli"])
        #expect(video.attributes("ssrc") == ["305419896 cname:relay", "305419896 msid:live-cam-1 live-cam-1-video"])
        #expect(video.attribute("msid") == "live-cam-1 live-cam-1-video")
        #expect(video.attributes("candidate") == ["1 1 udp 2130706431 192.0.2.10 8189 typ host",
                                                  "2 1 udp 2130706175 2001:db8::10 8189 typ host"])
        #expect(video.has("end-of-candidates"))
        let audio = sdp.media[1]
        #expect(audio.port == 0 && audio.formats == ["111"] && audio.attribute("mid") == "1" && audio.has("inactive"))
        #expect(!audio.has("candidate") && !audio.has("rtpmap"))

        // Our answer is itself a well-formed offer/answer for WebRTCOffer's reader.
        let reread = try WebRTCOffer(parsing: text)
        #expect(reread.ice == Self.ice && reread.setup == "passive" && reread.bundle == ["0"])
        #expect(reread.media[0].codecs.map(\.payloadType) == [108] && reread.media[0].ssrcs == [0x1234_5678])
    }

    @Test func whepAnswerWithG711() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        let sdp = try SessionDescription(parsing: try Self.whepAnswer(offer, audio: .g711a))
        #expect(sdp.attributes.contains(.init(name: "group", value: "BUNDLE 0 1")))
        #expect(sdp.media[1].port == 9 && sdp.media[1].formats == ["8"] && sdp.media[1].attributes("rtpmap") == ["8 PCMA/8000"])
        #expect(sdp.media[1].attributes("ssrc").first == "195939070 cname:relay")
    }

    @Test func whipAnswer() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.sendonly)
        let sdp = try SessionDescription(parsing: try Self.whipAnswer(offer))
        #expect(sdp.attributes.contains(.init(name: "group", value: "BUNDLE 0 1")))
        #expect(sdp.media.map(\.formats) == [["8"], ["108"]])
        #expect(sdp.media.allSatisfy { $0.has("recvonly") && !$0.has("ssrc") && $0.attribute("setup") == "passive" })
        #expect(sdp.media.allSatisfy { $0.attributes("candidate").count == 2 })
    }

    @Test func everythingRejected() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        let text = WebRTCAnswer.render(offer: offer, media: [], ice: Self.ice, fingerprint: Self.fingerprint, candidates: [],
                                       sessionID: 1, cname: "", streamLabel: "")
        let sdp = try SessionDescription(parsing: text)
        #expect(!sdp.attributes.contains { $0.name == "group" })
        #expect(sdp.media.allSatisfy { $0.port == 0 && $0.has("inactive") })
    }
}
