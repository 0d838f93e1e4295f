/// What a TransStream produces; players of equal kinds share its bytes. The parameters an
/// output needs travel with it (RTSP: which interleaved channels carry which track).
public enum OutputKind: Hashable, Sendable, CustomStringConvertible {
    case rtmp
    /// HTTP-FLV (chunked).
    case flv
    /// FLV over WebSocket (unchunked; each segment one binary frame).
    case wsFLV
    /// An FLV file being recorded (unchunked; a background sink, not a player).
    case flvFile
    /// Fragmented MP4 over HTTP (chunked), for MSE players and ffplay.
    case fmp4
    /// Fragmented MP4 over WebSocket (each segment one binary frame).
    case wsFMP4
    /// HLS with MPEG-TS segments: one segmenter (a background sink) and the HLS sessions
    /// (players that only count: they fetch from the segmenter's memory).
    case hlsTS
    /// HLS with fMP4 (CMAF) segments and LL-HLS parts; as `hlsTS`.
    case hlsFMP4
    case rtsp(RTPChannelLayout)
    /// WebRTC (WHEP) viewers: RTP packets framed like RTSP's (smaller, to fit SRTP in a path
    /// MTU), protected and sent per viewer.
    case webrtc(RTPChannelLayout)
    /// RTP carrying an MPEG program stream (GB28181 cascade senders: a background sink, not a
    /// player), every packet RFC 4571 framed; UDP senders send the framed packets as datagrams.
    case rtpPS(RTPPSFormat)

    /// As the admin API, metrics and logs show it: "rtmp", "flv", "ws-flv", "flv-file", "fmp4",
    /// "ws-fmp4", "hls", "hls-fmp4", "rtsp/0:0-1/1:2-3", "webrtc/0:0-1",
    /// "rtp-ps/0100000001/96" ("…/96/audio" for an audio-only sender).
    public var description: String {
        switch self {
        case .rtsp(let layout): return "rtsp/" + layout.channelsDescription
        case .webrtc(let layout): return "webrtc/" + layout.channelsDescription
        case .rtpPS(let format): return "rtp-ps/\(format.ssrc)/\(format.payloadType)\(format.audioOnly ? "/audio" : "")"
        default: return protocolName
        }
    }

    /// The players' protocol: "rtmp", "flv", "ws-flv", "flv-file", "fmp4", "ws-fmp4", "hls",
    /// "hls-fmp4", "rtsp", "webrtc", "rtp-ps".
    public var protocolName: String {
        switch self {
        case .rtmp: return "rtmp"
        case .flv: return "flv"
        case .wsFLV: return "ws-flv"
        case .flvFile: return "flv-file"
        case .fmp4: return "fmp4"
        case .wsFMP4: return "ws-fmp4"
        case .hlsTS: return "hls"
        case .hlsFMP4: return "hls-fmp4"
        case .rtsp: return "rtsp"
        case .webrtc: return "webrtc"
        case .rtpPS: return "rtp-ps"
        }
    }
}

/// What RTP/PS senders of one TransStream share: the bytes differ by SSRC and payload type only.
public struct RTPPSFormat: Sendable, Hashable {
    public var ssrc: UInt32
    /// 0...127 (masked to 7 bits when written).
    public var payloadType: UInt8
    /// Only the audio track goes into the program stream (a voice broadcast).
    public var audioOnly: Bool

    public init(ssrc: UInt32, payloadType: UInt8, audioOnly: Bool = false) {
        self.ssrc = ssrc
        self.payloadType = payloadType
        self.audioOnly = audioOnly
    }
}

/// The interleaved channels that carry each set-up track's RTP and RTCP (UDP players use the
/// same layout and send its framed packets as datagrams).
public struct RTPChannelLayout: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        /// `AVStream.index` of the track.
        public var streamIndex: Int
        public var rtp: UInt8
        public var rtcp: UInt8

        public init(streamIndex: Int, rtp: UInt8, rtcp: UInt8) {
            self.streamIndex = streamIndex
            self.rtp = rtp
            self.rtcp = rtcp
        }
    }

    public private(set) var entries: [Entry]

    public init(_ entries: [Entry]) {
        self.entries = entries.sorted { $0.streamIndex < $1.streamIndex }
    }

    /// The TransStream kind of this layout's players.
    public var kind: OutputKind { .rtsp(self) }

    /// "0:0-1/1:2-3": stream index, RTP and RTCP channel of each entry.
    public var channelsDescription: String {
        entries.map { "\($0.streamIndex):\($0.rtp)-\($0.rtcp)" }.joined(separator: "/")
    }

    public func entry(forChannel channel: UInt8) -> Entry? {
        entries.first { $0.rtp == channel || $0.rtcp == channel }
    }
}
