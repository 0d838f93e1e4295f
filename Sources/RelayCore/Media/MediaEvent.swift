/// What every demuxer (FLV over RTMP, MPEG-PS of GB28181, JT/T 1078) hands a Source, through
/// `Source.receive`.
public enum MediaEvent: Sendable {
    /// The publisher announced these kinds (RTMP onMetaData, a PS map): the source becomes
    /// playable as soon as they are configured instead of waiting `track_wait_ms`.
    case tracks(video: Bool, audio: Bool)
    /// A new track or a changed configuration (sequence header, parameter sets).
    case stream(AVStream)
    case packet(AVPacket)
    /// Something an operator should read once (an unsupported payload type, a clock fallback);
    /// the session logs it, as it knows the peer. The Source ignores it.
    case notice(String)
}

extension Source {
    /// One event of the publisher's demuxer; on the publisher's loop (`assumeIsolated`).
    @inline(__always)
    public func receive(_ event: MediaEvent) {
        switch event {
        case .tracks(let video, let audio): expectTracks(video: video, audio: audio)
        case .stream(let stream): updateStream(stream)
        case .packet(let packet): write(packet)
        case .notice: break
        }
    }
}
