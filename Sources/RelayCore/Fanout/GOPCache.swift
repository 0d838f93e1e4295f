/// AVPackets since the last video key frame, used to prime a TransStream created for a new
/// protocol so its first player starts at once on a key frame.
///
/// Bounded by bytes and media duration: a GOP longer than either is dropped and the cache waits
/// for the next key frame (players then wait too, rather than the server holding unbounded memory).
struct GOPCache {
    let enabled: Bool
    let maxBytes: Int
    let maxMs: Int64
    private(set) var packets: [AVPacket] = []
    private(set) var bytes = 0
    private var firstMs: Int64 = 0

    init(enabled: Bool, maxBytes: Int, maxMs: Int) {
        self.enabled = enabled
        self.maxBytes = maxBytes
        self.maxMs = Int64(maxMs)
    }

    /// `ms`: the packet's dts in milliseconds. `hasVideo`: whether the source carries video; an
    /// audio-only source keeps only its latest packet (any audio frame is a starting point).
    mutating func add(_ packet: AVPacket, ms: Int64, hasVideo: Bool) {
        guard enabled else { return }
        if !hasVideo {
            packets.removeAll(keepingCapacity: true)
            packets.append(packet)
            bytes = packet.payload.readableBytes
            return
        }
        if packet.isVideo && packet.isKeyFrame {
            packets.removeAll(keepingCapacity: true)
            bytes = 0
            firstMs = ms
        } else if packets.isEmpty {
            return  // no key frame yet: nothing a player could start on
        }
        packets.append(packet)
        bytes += packet.payload.readableBytes
        if bytes > maxBytes || ms - firstMs > maxMs {
            clear()
        }
    }

    mutating func clear() {
        packets.removeAll()
        bytes = 0
    }
}
