import RelayCore

/// Events that arrive while a pull's publish admission waits (an on_publish hook): every track
/// configuration, and media from the last video key frame, within a bound.
struct PullHeldEvents {
    static let maxPackets = 1024
    static let maxBytes = 16 << 20
    /// Configurations change rarely; a peer that sends nothing else keeps its latest ones.
    static let maxConfigs = 64

    private(set) var configs: [MediaEvent] = []
    private(set) var packets: [AVPacket] = []
    private var bytes = 0
    /// Over the bound: packets wait for the next video key frame.
    private var waitingForKey = false

    mutating func add(_ event: MediaEvent) {
        switch event {
        case .tracks, .stream:
            if configs.count >= Self.maxConfigs { configs.removeFirst() }
            configs.append(event)
        case .packet(let packet):
            let isVideoKey = packet.isKeyFrame && packet.codec.isVideo
            if isVideoKey {
                packets.removeAll(keepingCapacity: true)
                bytes = 0
                waitingForKey = false
            } else if waitingForKey {
                return
            }
            guard packets.count < Self.maxPackets, bytes + packet.payload.readableBytes <= Self.maxBytes else {
                packets.removeAll()
                bytes = 0
                waitingForKey = true
                return
            }
            packets.append(packet)
            bytes += packet.payload.readableBytes
        case .notice:
            break
        }
    }

    /// The configurations, then the media, in arrival order of each.
    mutating func drain() -> [MediaEvent] {
        defer { self = PullHeldEvents() }
        return configs + packets.map { .packet($0) }
    }
}
