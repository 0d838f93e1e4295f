import RelayRTMP

/// Where the camera (and relay-bench's push) publishes: RelayRTMP's `RTMPURL`.
public typealias RTMPPublishURL = RTMPURL

extension RTMPURL {
    /// The URL of a command line, or an error that says what is wrong with it.
    public init(parsing url: String) throws {
        guard let parsed = RTMPURL(url) else {
            throw CameraInputError("\(url): expected rtmp://host[:port]/app/stream")
        }
        self = parsed
    }
}
