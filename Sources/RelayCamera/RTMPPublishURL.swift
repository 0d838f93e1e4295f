import RelayRTMP

/// Where the camera (and relay-bench's push) publishes: RelayRTMP's `RTMPURL`.
public typealias RTMPPublishURL = RTMPURL
