import NIOCore
import RelayCore

/// What the relay agrees to for an offer: per offered m-line the codec it sends (WHEP) or takes
/// (WHIP), or a rejection; and, for a viewer, the TransStream layout and its tracks.
enum WebRTCNegotiation {
    struct Play: Sendable {
        var answers: [WebRTCAnswer.Media] = []
        var layout = RTPChannelLayout([])
        var tracks: [WebRTCPlayer.Track] = []
        /// Why nothing was accepted (for the 406 and its log line).
        var why = ""
        var summary = ""
    }

    /// WHEP: the source's first video track on the first video m-line that can take its codec,
    /// its G.711 track on the first audio m-line offering it. AAC, MP3 and Opus are not sent
    /// (no transcoding): such a stream plays video only.
    static func play(_ offer: WebRTCOffer, streams: [AVStream]) -> Play {
        var result = Play()
        var entries: [RTPChannelLayout.Entry] = []
        let video = streams.first { $0.video != nil }
        let audio = streams.first { $0.codec == .g711a || $0.codec == .g711u }
        var videoTaken = false, audioTaken = false
        var summary: [String] = []
        for media in offer.media {
            var chosen: WebRTCOffer.Codec?
            var ssrc: UInt32?
            let receives = media.direction == .recvonly || media.direction == .sendrecv
            if receives, media.kind == "video", !videoTaken, let video,
               let codec = CodecNegotiation.forSending(media, codec: video.codec, profileLevelID: video.h264ProfileLevelID) {
                videoTaken = true
                chosen = codec
                ssrc = UInt32.random(in: 1...UInt32.max)
                entries.append(.init(streamIndex: video.index, rtp: 0, rtcp: 1))
                result.tracks.append(WebRTCPlayer.Track(rtp: 0, rtcp: 1, payloadType: codec.payloadType, ssrc: ssrc ?? 1, isVideo: true))
                summary.append("\(video.codec) as \(codec.name)/\(codec.payloadType)")
            } else if receives, media.kind == "audio", !audioTaken, let audio,
                      let codec = CodecNegotiation.forSending(media, codec: audio.codec, profileLevelID: nil) {
                audioTaken = true
                chosen = codec
                ssrc = UInt32.random(in: 1...UInt32.max)
                entries.append(.init(streamIndex: audio.index, rtp: 2, rtcp: 3))
                result.tracks.append(WebRTCPlayer.Track(rtp: 2, rtcp: 3, payloadType: codec.payloadType, ssrc: ssrc ?? 1, isVideo: false))
                summary.append("\(audio.codec) as \(codec.name)/\(codec.payloadType)")
            }
            result.answers.append(WebRTCAnswer.Media(mid: media.mid, codec: chosen, direction: .sendonly, ssrc: ssrc))
        }
        result.layout = RTPChannelLayout(entries)
        let offered = offer.media.map { "\($0.kind): " + Set($0.codecs.map(\.name)).sorted().joined(separator: " ") }
        result.why = "the stream has \(streams.map { "\($0.codec)" }.joined(separator: ", ")); the offer: \(offered.joined(separator: "; "))"
        result.summary = summary.joined(separator: ", ")
        if let audio = streams.first(where: { $0.audio != nil && $0.codec != .g711a && $0.codec != .g711u }), !audioTaken {
            result.summary += " (audio \(audio.codec) is not sent: WebRTC takes G.711 here, without transcoding)"
        }
        return result
    }

    struct Publish: Sendable {
        var answers: [WebRTCAnswer.Media] = []
        var video: WebRTCOffer.Codec?
        var audio: WHIPIngest.Audio?
        var why = ""
        var summary = ""
    }

    /// WHIP: H.264 video and G.711 audio, one m-line each.
    static func publish(_ offer: WebRTCOffer) -> Publish {
        var result = Publish()
        var summary: [String] = []
        for media in offer.media {
            var chosen: WebRTCOffer.Codec?
            let sends = media.direction == .sendonly || media.direction == .sendrecv
            if sends, let codec = CodecNegotiation.forReceiving(media) {
                if media.kind == "video", result.video == nil, codec.name == "H264" {
                    result.video = codec
                    chosen = codec
                } else if media.kind == "audio", result.audio == nil, codec.name == "PCMA" || codec.name == "PCMU" {
                    result.audio = WHIPIngest.Audio(payloadType: codec.payloadType, codec: codec.name == "PCMA" ? .g711a : .g711u)
                    chosen = codec
                }
            }
            if let chosen { summary.append("\(media.kind) \(chosen.name)/\(chosen.payloadType)") }
            result.answers.append(WebRTCAnswer.Media(mid: media.mid, codec: chosen, direction: .recvonly, ssrc: nil))
        }
        let offered = offer.media.map { "\($0.kind): " + Set($0.codecs.map(\.name)).sorted().joined(separator: " ") }
        result.why = "the relay takes H264 (packetization-mode 1) and PCMA/PCMU; the offer: \(offered.joined(separator: "; "))"
        result.summary = summary.joined(separator: ", ")
        return result
    }
}
