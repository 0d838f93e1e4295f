// What the GB28181 receiver endpoints answer; openapi.yaml (repo root) describes each as a
// schema, and the admin interop tests check the answers against it.

struct GBReceiverBody: Encodable, Sendable {
    var stream: String
    var ssrc: String?
    var mode: String
    var ip: String
    var port: Int?
    var sharedPort: Bool
    var state: String
    /// When `state` began (ISO 8601).
    var since: String
    var configured: Bool
    /// The peer of the current session; null while waiting.
    var remoteAddress: String?
    /// This server's port: the receive port, or for tcp-active the one it dials from (absent: any).
    var localPort: Int?
    /// The name the stream was published under when on_publish renamed it; absent otherwise.
    var publishedAs: String?
    /// The no-media checks are paused (PUT {"check_paused": true}).
    var checkPaused: Bool
    var packets: UInt64
    var bytes: UInt64
    var lost: UInt64
    var late: UInt64
    var duplicates: UInt64
    var reordered: UInt64
    var resyncs: UInt64
    var videoFrames: UInt64
    var audioFrames: UInt64
    var framesDropped: UInt64
    var sessions: UInt64
    /// Packets with this receiver's SSRC from an address it is not pinned to (dropped).
    var foreignPackets: UInt64
    /// Packets or frames dropped as malformed (UDP: the stream goes on).
    var malformedPackets: UInt64
    var repins: UInt64

    enum CodingKeys: String, CodingKey {
        case stream, ssrc, mode, ip, port, sharedPort = "shared_port", state, since, configured
        case remoteAddress = "remote_address", localPort = "local_port", publishedAs = "published_as", checkPaused = "check_paused", packets, bytes, lost, late, duplicates, reordered, resyncs
        case videoFrames = "video_frames", audioFrames = "audio_frames", framesDropped = "frames_dropped", sessions
        case foreignPackets = "foreign_packets", malformedPackets = "malformed_packets", repins
    }
}

struct GBReceiverList: Encodable, Sendable {
    var count: Int
    var receivers: [GBReceiverBody]
}

struct GBReceiverClosed: Encodable, Sendable {
    var stream: String
    var closed: Bool
}
