/// AVPackets since the last video key frame, used to prime a TransStream created for a new
/// protocol so its first player starts at once on a key frame.
///
/// Bounded by bytes and media duration: a GOP longer than either is dropped and the cache waits
/// for the next key frame (players then wait too, rather than the server holding unbounded memory).
/// Bytes are what the cache really holds (`MemoryCost`): storage plus a per-packet overhead, so a
/// flood of tiny packets at one timestamp is bounded too.
struct GOPCache {
    let enabled: Bool
    let maxBytes: Int
    let maxMs: Int64
    private(set) var packets: [AVPacket] = []
    private(set) var bytes = 0
    private var firstMs: Int64 = 0
    /// Array capacity kept across GOPs; a larger one (left by a flood) is given back.
    static let keptCapacity = 2048

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
            packets.removeAll(keepingCapacity: packets.capacity <= Self.keptCapacity)
            bytes = 0
            append(packet)
            return
        }
        if packet.isVideo && packet.isKeyFrame {
            packets.removeAll(keepingCapacity: packets.capacity <= Self.keptCapacity)
            bytes = 0
            firstMs = ms
        } else if packets.isEmpty {
            return  // no key frame yet: nothing a player could start on
        }
        append(packet)
        if bytes > maxBytes || ms &- firstMs > maxMs {
            clear()
        }
    }

    private mutating func append(_ packet: AVPacket) {
        var packet = packet
        packet.payload = MemoryCost.compacted(packet.payload)
        bytes += MemoryCost.held(packet.payload) + MemoryCost.packetOverhead
        packets.append(packet)
    }

    mutating func clear() {
        packets = []
        bytes = 0
    }
}
