import RelayCore

/// How one track travels over RTP: payload type, encoding name, clock and channels as the SDP
/// announces them and the muxer writes them (one definition, so the two cannot disagree).
public struct RTPFormat: Sendable, Equatable {
    public var payloadType: UInt8
    public var encoding: String
    public var clockRate: Int
    /// Audio channels; nil for video.
    public var channels: Int?

    /// Nil for codecs the RTP muxer does not carry (MP3, Opus).
    public init?(_ stream: AVStream) {
        switch stream.codec {
        case .h264:
            self.init(payloadType: 96, encoding: "H264", clockRate: 90000, channels: nil)
        case .h265:
            self.init(payloadType: 96, encoding: "H265", clockRate: 90000, channels: nil)
        case .aac:
            guard let audio = stream.audio, audio.sampleRate > 0, stream.extradata.readableBytes > 0 else { return nil }
            self.init(payloadType: 97, encoding: "MPEG4-GENERIC", clockRate: audio.sampleRate, channels: audio.channels)
        case .g711a, .g711u:
            let audio = stream.audio ?? .g711
            // RFC 3551 static types 8 (PCMA) and 0 (PCMU) mean 8 kHz mono; anything else is dynamic.
            let isStatic = audio.sampleRate == 8000 && audio.channels == 1
            let pt: UInt8 = isStatic ? (stream.codec == .g711a ? 8 : 0) : 97
            self.init(payloadType: pt, encoding: stream.codec == .g711a ? "PCMA" : "PCMU",
                      clockRate: audio.sampleRate, channels: audio.channels)
        case .mp3, .opus:
            return nil
        }
    }

    public init(payloadType: UInt8, encoding: String, clockRate: Int, channels: Int?) {
        self.payloadType = payloadType
        self.encoding = encoding
        self.clockRate = clockRate
        self.channels = channels
    }

    /// The `a=rtpmap` value: "96 H264/90000", "97 MPEG4-GENERIC/44100/2".
    public var rtpmap: String {
        var s = "\(payloadType) \(encoding)/\(clockRate)"
        if let channels, channels != 1 { s += "/\(channels)" }
        return s
    }
}
