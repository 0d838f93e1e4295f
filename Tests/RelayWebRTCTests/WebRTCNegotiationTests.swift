import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayWebRTC

/// What the relay agrees to for Chromium's real offers, per source.
@Suite struct WebRTCNegotiationTests {
    static func h264(_ sps: String, _ pps: String) throws -> AVStream {
        try AVStream.h264(index: 0, timebase: 1000, sps: [hexBuffer(sps)], pps: [hexBuffer(pps)])
    }

    @Test func aHighProfileStreamWithG711PlaysBothTracks() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        let video = try Self.h264(MediaFixtures.h264High1080SPS, MediaFixtures.h264High1080PPS)
        let audio = AVStream.g711(.g711a, index: 1, timebase: 1000)
        let play = WebRTCNegotiation.play(offer, streams: [video, audio])
        #expect(play.answers.map(\.mid) == offer.media.map(\.mid), "one answer per offered m-line, in order")
        #expect(play.tracks.count == 2)
        let v = try #require(play.tracks.first { $0.isVideo })
        let a = try #require(play.tracks.first { !$0.isVideo })
        let videoCodec = try #require(play.answers[0].codec)
        #expect(videoCodec.name == "H264" && videoCodec.fmtp["packetization-mode"] == "1")
        #expect(v.payloadType == videoCodec.payloadType && v.ssrc == play.answers[0].ssrc)
        #expect(play.answers[1].codec?.name == "PCMA" && a.payloadType == 8)
        #expect(play.layout.entries.map(\.streamIndex) == [0, 1])
        #expect(video.h264ProfileLevelID == "640028")
    }

    @Test func aacIsNotSentAndTheAnswerSaysSo() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        let video = try Self.h264(MediaFixtures.h264Main720SPS, MediaFixtures.h264Main720PPS)
        let aac = AVStream(index: 1, codec: .aac, timebase: 1000, audio: AudioParameters(sampleRate: 44100, channels: 2))
        let play = WebRTCNegotiation.play(offer, streams: [video, aac])
        #expect(play.tracks.count == 1 && play.tracks[0].isVideo)
        #expect(play.answers[1].codec == nil, "the audio m-line is rejected")
        #expect(play.summary.contains("not sent"))
    }

    @Test func anH265StreamHasNothingInCommonWithThisChromium() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.recvonly)
        let hevc = try AVStream.h265(index: 0, timebase: 1000, vps: [hexBuffer(MediaFixtures.hevcMain720VPS)],
                                     sps: [hexBuffer(MediaFixtures.hevcMain720SPS)], pps: [hexBuffer(MediaFixtures.hevcMain720PPS)])
        let play = WebRTCNegotiation.play(offer, streams: [hevc])
        #expect(play.tracks.isEmpty)
        #expect(play.why.contains("h265") || play.why.contains("hevc"), "\(play.why)")
    }

    @Test func whipTakesH264AndG711FromChromiumsCamera() throws {
        let offer = try WebRTCOffer(parsing: ChromeOffers.sendonly)
        let publish = WebRTCNegotiation.publish(offer)
        #expect(publish.video?.name == "H264" && publish.video?.fmtp["packetization-mode"] == "1")
        #expect(publish.audio?.codec == .g711a || publish.audio?.codec == .g711u)
        #expect(publish.answers.allSatisfy { $0.direction == .recvonly })
        #expect(publish.answers.count == offer.media.count)
    }

    @Test func paths() {
        let token = WebRTCPath.newToken()
        #expect(WebRTCPath("/live/cam/whep") == WebRTCPath(stream: "live/cam", role: .player, session: nil))
        #expect(WebRTCPath("/a/b/c/whip") == WebRTCPath(stream: "a/b/c", role: .publisher, session: nil))
        #expect(WebRTCPath("/live/cam/whep/\(token)"[...]) == WebRTCPath(stream: "live/cam", role: .player, session: token))
        #expect(WebRTCPath("/live/whep") == nil, "APP/STREAM: two parts at least")
        #expect(WebRTCPath("/whep") == nil)
        #expect(WebRTCPath("/live/../x/whep") == nil, "stream ids are validated")
        #expect(WebRTCPath("/live/cam/whep/notatoken") == nil)
        #expect(WebRTCPath("/live/cam.flv") == nil)
    }

    @Test func historyKeepsTheLatestPacketPerSlot() {
        var history = WebRTCPacketHistory(capacity: 4)
        for seq: UInt16 in [65534, 65535, 0, 1, 2] {
            history.record(sequence: seq, timestamp: UInt32(seq), packet: ByteBuffer(bytes: [UInt8(truncatingIfNeeded: seq)]))
        }
        #expect(history.packet(65534) == nil, "overwritten by the packet `capacity` later")
        #expect(history.packet(2)?.timestamp == 2)
        #expect(history.packet(65535)?.packet.readableBytesView.first == 255)
        #expect(history.packet(3) == nil)
        history.clear()
        #expect(history.packet(2) == nil)
    }
}
