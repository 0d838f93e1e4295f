/// Codecs the relay carries. Payload conventions (see `AVPacket`) depend on the codec.
public enum CodecID: String, Sendable, Hashable, CustomStringConvertible {
    case h264
    case h265
    case aac
    case g711a
    case g711u
    case mp3
    case opus

    public var isVideo: Bool { self == .h264 || self == .h265 }
    public var isAudio: Bool { !isVideo }
    public var description: String { rawValue }
}

public enum MediaKind: Sendable, Hashable {
    case video
    case audio
}
