/// Who asks to publish or play: the stream id and the session (what the on_publish / on_play
/// hook is told; a publisher's `protocolName` decides takeovers).
public struct AdmissionRequest: Sendable {
    public var streamID: String
    public var session: SessionInfo

    public init(streamID: String, session: SessionInfo) {
        self.streamID = streamID
        self.session = session
    }
}

public typealias PublishRequest = AdmissionRequest
public typealias PlayRequest = AdmissionRequest
