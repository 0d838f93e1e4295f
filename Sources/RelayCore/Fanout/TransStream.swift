import NIOCore

/// One protocol's view of a Source: muxes every packet once for all of that protocol's players,
/// merges the output into segments and keeps those since the last key frame for new players.
///
/// Created lazily by the Source when the first player of its kind arrives; confined to the
/// Source's event loop.
final class TransStream {
    let kind: OutputKind
    private let muxer: any Muxer
    private var streams: [AVStream]
    private var merge: MergeWriteBuffer
    private let mergePolicy: MergeWritePolicy
    private var header: ByteBuffer
    private var hasVideo: Bool
    /// Serialized segments since the last key frame; empty while waiting for one.
    private var gop: [Segment] = []
    /// What `gop` holds, as allocated (`MemoryCost`).
    private(set) var gopBytes = 0
    private let maxGOPBytes: Int
    private var fanout = SinkFanout()
    /// Tracks (bit per stream index) with a packet in the open segment, and in the cached GOP.
    private var openTracks: UInt64 = 0
    private var gopTracks: UInt64 = 0

    init(kind: OutputKind, muxer: any Muxer, streams: [AVStream], merge policy: MergeWritePolicy, maxGOPBytes: Int) {
        self.kind = kind
        self.muxer = muxer
        self.streams = streams
        self.mergePolicy = policy
        self.merge = MergeWriteBuffer(mergeWindowMs: policy.windowMs(players: 0), prefixSize: muxer.segmentPrefixSize)
        self.maxGOPBytes = maxGOPBytes
        self.hasVideo = streams.contains { $0.kind == .video }
        self.header = ByteBuffer()
        self.header = makeHeader()
    }

    var sinkCount: Int { fanout.count }

    /// The span of the segments written now (ms of media time; 0 = a segment per packet).
    var mergeWindowMs: Int { Int(merge.mergeWindowMs) }

    func write(_ packet: AVPacket, stream: AVStream) {
        let ms = packet.dts.rescaled(from: stream.timebase, to: 1000)
        let videoKey = packet.isVideo && packet.isKeyFrame
        if let cut = merge.willAppend(atMs: ms, cutBefore: videoKey, resumable: hasVideo ? videoKey : true,
                                      pacing: !hasVideo || packet.isVideo, expectedBytes: packet.payload.readableBytes) {
            emit(cut)
        }
        merge.withOpen { muxer.mux(packet, stream: stream, into: &$0) }
        let track = UInt64(1) << UInt64(clamping: min(packet.streamIndex, 63))
        openTracks |= track
        if merge.cutsEveryPacket || (!gop.isEmpty && gopTracks & track == 0), let cut = merge.cut() {
            // (The second case: the cached GOP has no packet of this track yet, e.g. a key frame
            // primed alone. Cut now rather than after the window, so a new RTSP player, whose PLAY
            // waits for a packet of every track, is not kept waiting up to a window.)
            emit(cut)
        }
    }

    /// A track's configuration changed: new players get a new header, current ones get the new
    /// sequence header in order with the media.
    func configChanged(_ stream: AVStream, streams: [AVStream]) {
        self.streams = streams
        header = makeHeader()
        merge.ensureOpen(startsWithKey: false)
        merge.withOpen { muxer.configChanged(stream, streams: streams, into: &$0) }
        if merge.cutsEveryPacket, let cut = merge.cut() {
            emit(cut)
        }
    }

    func add(_ sink: any MediaSink) {
        fanout.add(sink, startup: StartupBytes(header: header, segments: gop))
        adaptWindow()
    }

    func remove(_ sink: any MediaSink) {
        fanout.remove(sink)
        adaptWindow()
    }

    /// Follows the player count (`MergeWritePolicy`). A window that drops to 0 cuts the open
    /// segment at once: the players left should not wait for the window of a larger audience.
    private func adaptWindow() {
        let window = mergePolicy.windowMs(players: fanout.count)
        guard window != mergeWindowMs else { return }
        merge.setWindow(ms: window)
        if window == 0 { flush() }
    }

    /// Cuts the open segment now. After priming a new TransStream from the GOP cache this puts
    /// every cached packet into the start-up bytes, so its first player does not wait for the
    /// merge window to close.
    func flush() {
        if let cut = merge.cut() { emit(cut) }
    }

    /// Forgets the cached segments (too large, or the source is over its memory budget): new
    /// players wait for the next key frame.
    func dropCache() {
        gop = []
        gopBytes = 0
        gopTracks = 0
    }

    /// Publisher gone: flush what is open and end every player.
    func end() {
        flush()
        fanout.endAll()
    }

    private func makeHeader() -> ByteBuffer {
        var buffer = ByteBuffer()
        if muxer.segmentPrefixSize > 0 { buffer.writeRepeatingByte(0, count: muxer.segmentPrefixSize) }
        muxer.writeHeader(streams: streams, into: &buffer)
        muxer.finishSegment(&buffer)
        return buffer
    }

    private func emit(_ cut: MergeWriteBuffer.Cut) {
        var bytes = cut.bytes
        let startsWithKey = cut.startsWithKey
        muxer.finishSegment(&bytes)
        let segment = Segment(bytes: bytes, startsWithKeyFrame: startsWithKey, pacingMs: cut.pacingMs)
        let tracks = openTracks
        openTracks = 0
        if startsWithKey && hasVideo {
            gop.removeAll(keepingCapacity: gop.capacity <= GOPCache.keptCapacity)
            gopBytes = 0
            gopTracks = 0
        }
        if hasVideo && (startsWithKey || !gop.isEmpty) {
            gop.append(segment)
            gopBytes += MemoryCost.held(bytes) + MemoryCost.segmentOverhead
            gopTracks |= tracks
            if gopBytes > maxGOPBytes {
                // Too long a GOP to replay: new players wait for the next key frame instead.
                dropCache()
            }
        }
        fanout.deliver(segment)
    }
}
