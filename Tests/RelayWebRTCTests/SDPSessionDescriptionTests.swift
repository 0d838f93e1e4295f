import RelayRTP
import Testing
@testable import RelayWebRTC

@Suite struct SessionDescriptionTests {
    @Test func chromeOffersAsLines() throws {
        for text in [ChromeOffers.recvonly, ChromeOffers.recvonly.replacingOccurrences(of: "\n", with: "\r\n")] {
            let sdp = try SessionDescription(parsing: text)
            #expect(sdp.attributes.contains(.init(name: "group", value: "BUNDLE 0 1")))
            #expect(sdp.attributes.contains(.init(name: "extmap-allow-mixed", value: nil)))
            #expect(sdp.media.map(\.kind) == ["video", "audio"])
            let video = sdp.media[0]
            #expect(video.port == 9 && video.proto == "UDP/TLS/RTP/SAVPF")
            #expect(video.formats.count == 34 && video.formats.first == "96" && video.formats.last == "49")
            #expect(video.attribute("mid") == "0")
            #expect(video.attribute("ice-pwd") == "w+wWzrEtHsLnBovJp/4h1u0f")
            #expect(video.has("rtcp-mux") && video.has("recvonly") && !video.has("sendonly"))
            #expect(video.attributes("rtpmap").count == 34)
            #expect(sdp.media[1].attribute("rtpmap") == "111 opus/48000/2")
        }
    }

    @Test func unknownAndMalformedLinesAreSkipped() throws {
        let sdp = try SessionDescription(parsing: "v=0\nwhatever\nx=1\n=\nm=audio 9/2 RTP/AVP 0\na=mid:a\n\n")
        #expect(sdp.media.count == 1 && sdp.media[0].port == 9 && sdp.media[0].attribute("mid") == "a")
    }

    @Test func refusesWhatIsNotSDPOrTooLarge() {
        #expect(throws: SDPError.self) { try SessionDescription(parsing: "") }
        #expect(throws: SDPError.self) { try SessionDescription(parsing: "{\"sdp\": \"v=0\"}") }
        #expect(throws: SDPError.self) { try SessionDescription(parsing: "v=1\n") }
        #expect(throws: SDPError.self) { try SessionDescription(parsing: "v=0\nm=video\n") }
        #expect(throws: SDPError.self) { try SessionDescription(parsing: "v=0\nm=video 70000 RTP/AVP 96\n") }
        #expect(throws: SDPError.self) { try SessionDescription(parsing: "v=0\nm=video x RTP/AVP 96\n") }
        let manyMedia = "v=0\n" + String(repeating: "m=audio 9 RTP/AVP 0\n", count: 33)
        #expect(throws: SDPError.self) { try SessionDescription(parsing: manyMedia) }
        #expect((try? SessionDescription(parsing: "v=0\n" + String(repeating: "m=audio 9 RTP/AVP 0\n", count: 32))) != nil)
        let manyLines = "v=0\n" + String(repeating: "a=x\n", count: 4100)
        #expect(throws: SDPError.self) { try SessionDescription(parsing: manyLines) }
        let huge = "v=0\na=x:" + String(repeating: "y", count: 70_000)
        #expect(throws: SDPError.self) { try SessionDescription(parsing: huge) }
    }
}
