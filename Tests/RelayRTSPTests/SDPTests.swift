import NIOCore
import RelayCore
import RelayRTP
@testable import RelayRTSP
import Testing
import RelayTestSupport

@Suite struct SDPTests {
    // Parameter sets of a 1280x720 x264 stream and a 1280x720 x265 stream.
    static let sps264 = hexBuffer("6742c01fda014016ec0440000003004000000c83c60ca8")
    static let pps264 = hexBuffer("68ce0fc8")
    static let vps265 = hexBuffer("40010c01ffff01600000030090000003000003005d959409")
    static let sps265 = hexBuffer("42010101600000030090000003000003005da00280802d16595952930bc05a020000030002000003003210")
    static let pps265 = hexBuffer("4401c073c189")

    @Test func h264AndAACSessionDescription() throws {
        let video = try AVStream.h264(index: 0, timebase: 1000, sps: [Self.sps264], pps: [Self.pps264])
        let audio = try AVStream.aac(index: 1, timebase: 1000, sampleRate: 44100, channels: 2)
        #expect(video.video?.width == 1280 && video.video?.height == 720)
        let sdp = SDP.describe(streams: [video, audio], sessionID: 42, address: "127.0.0.1", name: "live/a")
        #expect(sdp == [
            "v=0",
            "o=- 42 1 IN IP4 127.0.0.1",
            "s=live/a",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "a=tool:LiveRelay",
            "a=range:npt=0-",
            "a=control:*",
            "m=video 0 RTP/AVP 96",
            "a=rtpmap:96 H264/90000",
            "a=fmtp:96 packetization-mode=1;profile-level-id=42c01f;sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADIPGDKg=,aM4PyA==",
            "a=control:trackID=0",
            "m=audio 0 RTP/AVP 97",
            "a=rtpmap:97 MPEG4-GENERIC/44100/2",
            "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1210",
            "a=control:trackID=1",
        ].joined(separator: "\r\n") + "\r\n")
    }

    @Test func h265Media() throws {
        let video = try AVStream.h265(index: 3, timebase: 90000, vps: [Self.vps265], sps: [Self.sps265], pps: [Self.pps265])
        let format = try #require(RTPFormat(video))
        #expect(SDP.media(video, format: format) == [
            "m=video 0 RTP/AVP 96",
            "a=rtpmap:96 H265/90000",
            "a=fmtp:96 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwBdlZQJ;sprop-sps=QgEBAWAAAAMAkAAAAwAAAwBdoAKAgC0WWVlSkwvAWgIAAAMAAgAAAwAyEA==;sprop-pps=RAHAc8GJ",
            "a=control:trackID=3",
        ])
    }

    @Test func g711UsesStaticTypesOnlyFor8kHzMono() throws {
        let alaw = AVStream(index: 1, codec: .g711a, timebase: 1000, audio: AudioParameters(sampleRate: 8000, channels: 1))
        let ulaw = AVStream(index: 2, codec: .g711u, timebase: 1000, audio: AudioParameters(sampleRate: 8000, channels: 1))
        let wide = AVStream(index: 3, codec: .g711u, timebase: 1000, audio: AudioParameters(sampleRate: 16000, channels: 2))
        #expect(SDP.media(alaw, format: try #require(RTPFormat(alaw))) == ["m=audio 0 RTP/AVP 8", "a=rtpmap:8 PCMA/8000", "a=control:trackID=1"])
        #expect(SDP.media(ulaw, format: try #require(RTPFormat(ulaw))) == ["m=audio 0 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=control:trackID=2"])
        #expect(SDP.media(wide, format: try #require(RTPFormat(wide))) == ["m=audio 0 RTP/AVP 97", "a=rtpmap:97 PCMU/16000/2", "a=control:trackID=3"])
    }

    @Test func tracksRTPCannotCarryAreLeftOut() throws {
        let mp3 = AVStream(index: 0, codec: .mp3, timebase: 1000, audio: AudioParameters(sampleRate: 44100, channels: 2))
        #expect(RTPFormat(mp3) == nil)
        let unconfiguredAAC = AVStream(index: 1, codec: .aac, timebase: 1000, audio: AudioParameters(sampleRate: 44100, channels: 2))
        #expect(RTPFormat(unconfiguredAAC) == nil)
        #expect(!SDP.describe(streams: [mp3], sessionID: 1, address: "::1", name: "x").contains("m="))
        #expect(SDP.describe(streams: [mp3], sessionID: 1, address: "::1", name: "x").contains("o=- 1 1 IN IP6 ::1"))
    }
}
