import Logging
import NIOCore

/// One live stream: owns its tracks, GOP cache and the TransStreams of its players.
///
/// An actor whose executor is the publisher's event loop: the publishing session hands it packets
/// synchronously (`assumeIsolated`, no hop, no allocation), while players on other loops reach it
/// with ordinary `await`s.
public actor Source {
    public nonisolated let id: String
    public nonisolated let eventLoop: any EventLoop
    public nonisolated let publisher: SessionInfo
    public nonisolated let startedAt: NIODeadline
    public nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }

    private let context: RelayContext
    private let config: RelayConfig.Source
    private var logger: Logger
    /// Hooks, receive/idle timers and recording (SourceLifecycle.swift).
    let lifecycle: SourceLifecycle

    /// Tracks by stream index as the publisher announced them.
    private var tracks: [Int: AVStream] = [:]
    /// Tracks players get, fixed when the source becomes playable (an FLV header cannot change).
    private var playable: [AVStream] = []
    private var expectVideo: Bool?
    private var expectAudio: Bool?
    /// `disableAudio()`: audio tracks are not taken.
    private var audioDisabled = false
    private var sawVideoKey = false
    private var readyTimer: Scheduled<Void>?
    public private(set) var isReady = false
    public private(set) var isClosed = false

    private var gop: GOPCache
    private var transStreams: [OutputKind: TransStream] = [:]
    private var onClose: [@Sendable () -> Void] = []

    // Publisher reconnect grace (`source.publisher_grace_ms`).
    /// The publisher dropped: players wait for it to come back until `graceTimer` fires.
    public private(set) var isLingering = false
    private var graceTimer: Scheduled<Void>?
    /// The source of the publisher that came back (set when this one handed its players over).
    private var successor: Source?
    /// The lingering source whose players this one takes over once playable.
    private var predecessor: Source?
    /// Media time (ms, as players saw it) of the last packet written to players.
    private var lastOutMs: Int64?
    /// Added to every packet's time for players, so a new publisher's clock continues the old one's.
    private var offsetMs: Int64 = 0
    /// The next packet's time for players (ms) once players were taken over; sets `offsetMs`.
    private var rebaseToMs: Int64?

    /// Each track's output clock, and the source's first input/output time (ms) that aligns them.
    private var clocks: [Int: MediaClock] = [:]
    private var clockOrigin: (inMs: Int64, outMs: Int64)?
    public private(set) var timestampJumps: UInt64 = 0
    private var jumpsReported: UInt64 = 0
    private var jumpWindowStart = NIODeadline.now()
    private var jumpsInWindow = 0

    /// What this source holds for players as last reported to `context.memory`.
    private var reportedBytes = 0
    private var cachesDropped: UInt64 = 0
    private var rateWindowStart = NIODeadline.now()
    private var rateCount = 0

    public private(set) var packetsIn: UInt64 = 0
    public private(set) var bytesIn: UInt64 = 0
    private var meter = RateMeter()
    /// Asks the publisher for a key frame; set by publishers that can produce one on demand
    /// (WHIP: a PLI to the browser). Players that lost a picture (a WebRTC viewer's PLI) call it.
    private var keyFrameRequester: (@Sendable () -> Void)?
    private var players: [SinkID: (sink: any MediaSink, kind: OutputKind)] = [:]

    public init(id: String, eventLoop: any EventLoop, publisher: SessionInfo, context: RelayContext) {
        self.id = id
        self.eventLoop = eventLoop
        self.publisher = publisher
        self.context = context
        self.config = context.config.source
        self.startedAt = .now()
        var logger = context.logger
        logger[metadataKey: "stream"] = "\(id)"
        self.logger = logger
        self.lifecycle = SourceLifecycle(id: id, loop: eventLoop, publisher: publisher, context: context, logger: logger)
        self.gop = GOPCache(enabled: config.gopCache, maxBytes: config.gopCacheMaxBytes, maxMs: config.gopCacheMaxMs)
    }

    // MARK: publisher side (called on `eventLoop`)

    /// What the publisher announced (RTMP onMetaData, a PS map); lets the source become playable
    /// as soon as those tracks are configured instead of waiting `track_wait_ms`.
    public func expectTracks(video: Bool, audio: Bool) {
        expectVideo = video
        expectAudio = audio && !audioDisabled
        checkReady()
    }

    /// Publishes without audio (the on_publish answer `{"enable_audio": false}`): audio tracks are
    /// never added, so their packets are dropped where unknown tracks are. Set before media.
    public func disableAudio() {
        audioDisabled = true
        if expectAudio == true { expectAudio = false }
    }

    /// A new track or a changed configuration (sequence header).
    public func updateStream(_ stream: AVStream) {
        guard !isClosed, !(audioDisabled && stream.kind == .audio) else { return }
        if tracks[stream.index] == stream { return }
        tracks[stream.index] = stream
        if isReady {
            guard let i = playable.firstIndex(where: { $0.index == stream.index }) else {
                logger.info("track \(stream.index) (\(stream.codec)) appeared after the stream became playable; not forwarded")
                return
            }
            playable[i] = stream
            for ts in transStreams.values { ts.configChanged(stream, streams: playable) }
        } else {
            checkReady()
        }
    }

    public func write(_ packet: AVPacket) {
        guard !isClosed, let stream = tracks[packet.streamIndex] else { return }
        guard admitRate() else { return }
        let packet = clocked(packet, stream: stream)
        guard !isClosed else { return }
        lifecycle.mediaArrived()
        packetsIn &+= 1
        bytesIn &+= UInt64(packet.payload.readableBytes)
        meter.add(packet)
        if packet.isVideo && packet.isKeyFrame { sawVideoKey = true }
        let ms = packet.dts.rescaled(from: stream.timebase, to: 1000)
        if !isReady {
            gop.add(packet, ms: ms, hasVideo: tracks.values.contains { $0.kind == .video } || expectVideo == true)
            if readyTimer == nil && config.trackWaitMs > 0 {
                readyTimer = eventLoop.scheduleTask(in: .milliseconds(Int64(config.trackWaitMs))) { [self] in
                    self.assumeIsolated { $0.becomeReady() }
                }
            }
            checkReady()
            return
        }
        guard playable.contains(where: { $0.index == packet.streamIndex }) else { return }
        gop.add(packet, ms: ms, hasVideo: hasVideo)
        if offsetMs == 0 && rebaseToMs == nil {
            lastOutMs = ms
            for ts in transStreams.values { ts.write(packet, stream: stream) }
        } else {
            let out = shifted(packet, stream: stream, ms: ms)
            for ts in transStreams.values { ts.write(out, stream: stream) }
        }
        accountMemory()
    }

    /// Keeps what this source holds for players within `source.max_memory_bytes` and reports it
    /// to the process budget (in steps of `memoryReportStep`, so the shared atomic is touched
    /// rarely).
    private func accountMemory() {
        var held = gop.bytes
        for ts in transStreams.values { held += ts.gopBytes }
        if held > config.maxMemoryBytes {
            gop.clear()
            for ts in transStreams.values { ts.dropCache() }
            held = 0
            cachesDropped &+= 1
            RelayMetrics.sourceCachesDropped()
            if cachesDropped <= 3 || cachesDropped.isMultiple(of: 100) {
                logger.warning("source holds more than source.max_memory_bytes \(config.maxMemoryBytes): caches dropped, new players wait for the next key frame (\(cachesDropped) times)")
            }
        }
        let delta = held - reportedBytes
        if abs(delta) >= Self.memoryReportStep || (held == 0 && reportedBytes != 0) {
            context.memory.add(delta)
            reportedBytes = held
        }
    }

    static let memoryReportStep = 256 << 10

    /// `source.max_packet_rate`: counts packets per wall-clock second; a publisher over it is
    /// hung up on (its media is what a flood looks like, not a stream).
    private func admitRate() -> Bool {
        let limit = config.maxPacketRate
        guard limit > 0 else { return true }
        rateCount &+= 1
        guard rateCount > limit else { return true }
        let now = NIODeadline.now()
        if now - rateWindowStart >= .seconds(1) {
            rateWindowStart = now
            rateCount = 1
            return true
        }
        RelayMetrics.parseError(protocol: publisher.protocolName)
        let why = "publisher \(publisher.remoteAddress) sent more than source.max_packet_rate \(limit) packets in one second"
        logger.warning("closing the stream: \(why)")
        close(reason: why)
        return false
    }

    /// The packet on its track's `MediaClock`: monotonic, in range, jumps turned into continuations.
    private func clocked(_ packet: AVPacket, stream: AVStream) -> AVPacket {
        var clock: MediaClock
        if let existing = clocks[packet.streamIndex], existing.timebase == stream.timebase {
            clock = existing
        } else {
            clock = MediaClock(timebase: stream.timebase, maxJumpMs: config.maxTimestampJumpMs,
                               startOut: startTicks(of: packet, stream: stream))
        }
        let (dts, pts, jumped) = clock.map(dts: packet.dts, pts: packet.pts)
        clocks[packet.streamIndex] = clock
        if jumped { noteDiscontinuity(packet, stream: stream) }
        var out = packet
        out.dts = dts
        out.pts = pts
        return out
    }

    /// A new track (or timebase) starts where the source's clock is: at the input's offset from
    /// the source's first packet, or with the track it replaces; a value far from both starts at
    /// the source's latest output.
    private func startTicks(of packet: AVPacket, stream: AVStream) -> Int64 {
        let inMs = packet.dts.rescaled(from: stream.timebase, to: 1000)
        let maxMs = Int64(config.maxTimestampJumpMs)
        guard let origin = clockOrigin else {
            // The first packet keeps its own time when it is an ordinary one (< 2^32 ms).
            let startMs = (0...Int64(UInt32.max)).contains(inMs) ? inMs : 0
            clockOrigin = (inMs, startMs)
            return startMs.rescaled(from: 1000, to: stream.timebase)
        }
        let (offset, overflow) = inMs.subtractingReportingOverflow(origin.inMs)
        let outMs = !overflow && abs(offset) <= maxMs ? origin.outMs &+ offset : (lastOutMs ?? origin.outMs)
        return max(0, outMs).rescaled(from: 1000, to: stream.timebase)
    }

    private func noteDiscontinuity(_ packet: AVPacket, stream: AVStream) {
        timestampJumps &+= 1
        if timestampJumps <= 3 || timestampJumps.isMultiple(of: 1000) {
            reportJumps()
            logger.notice("timestamp jump on track \(packet.streamIndex) (\(packet.codec)): continuing the output clock (\(timestampJumps) so far)")
        }
        // An encoder restarts now and then; times that jump all the time are not a stream.
        let limit = config.maxTimestampJumpsPerMinute
        guard limit > 0 else { return }
        let now = NIODeadline.now()
        if now - jumpWindowStart >= .seconds(60) {
            jumpWindowStart = now
            jumpsInWindow = 0
        }
        jumpsInWindow += 1
        if jumpsInWindow > limit {
            RelayMetrics.parseError(protocol: publisher.protocolName)
            let why = "publisher \(publisher.remoteAddress): timestamps jumped \(jumpsInWindow) times within a minute (source.max_timestamp_jumps_per_minute \(limit))"
            logger.warning("closing the stream: \(why)")
            close(reason: why)
        }
    }

    private func reportJumps() {
        RelayMetrics.timestampDiscontinuities(protocol: publisher.protocolName, count: timestampJumps &- jumpsReported)
        jumpsReported = timestampJumps
    }

    /// The packet as players see it: moved by `offsetMs` (a publisher that came back).
    private func shifted(_ packet: AVPacket, stream: AVStream, ms: Int64) -> AVPacket {
        if let base = rebaseToMs {
            offsetMs = base &- ms
            rebaseToMs = nil
        }
        lastOutMs = ms &+ offsetMs
        guard offsetMs != 0 else { return packet }
        var out = packet
        let ticks = offsetMs.rescaled(from: 1000, to: stream.timebase)
        out.dts &+= ticks
        out.pts &+= ticks
        return out
    }

    /// The publisher's connection dropped (no unpublish). With `publisher_grace_ms` and players,
    /// the source lingers: players stay and continue when a publisher of the same stream comes
    /// back in time (`StreamRegistry.register` hands them over); otherwise it closes now.
    public func publisherLeft(reason: String) {
        guard !isClosed, !isLingering else { return }
        let graceMs = config.publisherGraceMs
        guard graceMs > 0, isReady, !viewerCounts.isEmpty else {
            close(reason: reason)
            return
        }
        isLingering = true
        lifecycle.publisherLost()
        logger.info("publisher left (\(reason)); players wait up to \(graceMs) ms for it to come back")
        context.registry.linger(self)
        graceTimer = eventLoop.scheduleTask(in: .milliseconds(Int64(graceMs))) { [self] in
            self.assumeIsolated { $0.close(reason: "\(reason); no publisher came back within \(graceMs) ms") }
        }
    }

    /// Called by the registry on this (new) source's loop: `old` lingers and its players are
    /// taken over once this source is playable.
    func takeOverLater(from old: Source) {
        guard !isReady, !isClosed else { return }
        predecessor = old
    }

    /// On the lingering source's loop: gives its players, TransStreams and recording to `next`
    /// and closes (on_publish_done for its publisher; no play_done: the players go on).
    fileprivate func handOver(to next: Source) -> Handover? {
        guard isLingering, !isClosed else { return nil }
        graceTimer?.cancel()
        graceTimer = nil
        successor = next
        let handover = Handover(transStreams: transStreams, players: players, lastOutMs: lastOutMs ?? 0,
                                lifecycle: lifecycle.handOver())
        transStreams.removeAll()
        players.removeAll()
        close(reason: "publisher reconnected")
        return handover
    }

    /// On this source's loop: the predecessor's players continue here, after new sequence
    /// headers, from this source's GOP, with times continuing after the last they got.
    fileprivate func adopt(_ handover: Handover?) {
        defer { finishReady() }
        guard let handover else { return }
        guard !isClosed else {
            for ts in handover.transStreams.values { ts.end() }
            for (sink, kind) in handover.players.values { context.totals.playerLeft(sink, kind: kind) }
            lifecycle.adopt(handover.lifecycle)
            return
        }
        rebaseToMs = handover.lastOutMs &+ 40  // about one frame after the last one players got
        offsetMs = 0
        let replay = gop.packets
        for (kind, ts) in handover.transStreams {
            for stream in playable { ts.configChanged(stream, streams: playable) }
            transStreams[kind] = ts
        }
        for packet in replay {
            guard let stream = tracks[packet.streamIndex] else { continue }
            let out = shifted(packet, stream: stream, ms: packet.dts.rescaled(from: stream.timebase, to: 1000))
            for ts in handover.transStreams.values { ts.write(out, stream: stream) }
        }
        players.merge(handover.players) { a, _ in a }
        lifecycle.adopt(handover.lifecycle)
        logger.info("publisher came back: \(handover.players.count) players continue")
    }

    /// The publisher left (or the source is being closed by an operator): end every player.
    public func close(reason: String) {
        guard !isClosed else { return }
        isClosed = true
        isLingering = false
        readyTimer?.cancel()
        graceTimer?.cancel()
        graceTimer = nil
        logger.info("source closed: \(reason)")
        reportJumps()
        for ts in transStreams.values { ts.end() }
        transStreams.removeAll()
        for (sink, kind) in players.values { context.totals.playerLeft(sink, kind: kind) }
        players.removeAll()
        context.totals.sourceEnded(protocol: publisher.protocolName, bytesIn: bytesIn)
        gop.clear()
        context.memory.add(-reportedBytes)
        reportedBytes = 0
        context.memory.requestTrim()
        context.registry.unregister(self)
        lifecycle.sourceClosed(reason: reason, bytesIn: bytesIn, packetsIn: packetsIn, startedAt: startedAt)
        let callbacks = onClose
        onClose.removeAll()
        keyFrameRequester = nil
        for cb in callbacks { cb() }
    }

    /// Runs when the source closes (the publisher session uses it to hang up on operator close).
    public func whenClosed(_ body: @escaping @Sendable () -> Void) {
        if isClosed { body() } else { onClose.append(body) }
    }

    /// The publisher can make a key frame when asked (`requestKeyFrame`).
    public func setKeyFrameRequester(_ requester: (@Sendable () -> Void)?) {
        keyFrameRequester = requester
    }

    // MARK: player side

    /// Asks the publisher for a key frame; false when it cannot (RTMP, GB28181: the next key
    /// frame comes when the encoder sends it).
    @discardableResult
    public func requestKeyFrame() -> Bool {
        guard let keyFrameRequester, !isClosed else { return false }
        keyFrameRequester()
        return true
    }

    /// Adds a player of protocol `kind`; false when the source is gone or the kind unknown.
    ///
    /// `muxer` makes the TransStream's muxer for kinds that are not registered in the context
    /// (kinds with parameters, e.g. `.rtsp` channel layouts); players that share a kind
    /// share its bytes.
    public func attach(_ sink: any MediaSink, kind: OutputKind, muxer: MuxerFactory? = nil) -> Bool {
        guard isReady, !isClosed else { return false }
        if context.memory.isExhausted, !(sink is any BackgroundSink) {
            RelayMetrics.memoryBudgetRefused(kind: "player")
            logger.warning("player refused: sources hold \(context.memory.usedBytes) bytes, over limits.max_memory_bytes \(context.memory.limit)")
            return false
        }
        let ts: TransStream
        if let existing = transStreams[kind] {
            ts = existing
        } else {
            guard let factory = muxer ?? context.muxers[kind] else { return false }
            ts = TransStream(kind: kind, muxer: factory.make(), streams: playable,
                             merge: factory.mergePolicy ?? config.mergeWrite, maxGOPBytes: max(config.gopCacheMaxBytes, 1))
            for packet in gop.packets {
                if let stream = tracks[packet.streamIndex] { ts.write(packet, stream: stream) }
            }
            ts.flush()
            transStreams[kind] = ts
        }
        ts.add(sink)
        players[sink.id] = (sink, kind)
        lifecycle.playerAttached(sink, kind: kind)
        return true
    }

    /// Removes a player; the TransStream goes when its last player does (no muxing for nobody).
    public func detach(_ sink: any MediaSink, kind: OutputKind) {
        if let successor, players[sink.id] == nil {  // handed over to the publisher that came back
            successor.detachLater(sink, kind: kind)
            return
        }
        lifecycle.playerDetached(sink)
        if players.removeValue(forKey: sink.id) != nil { context.totals.playerLeft(sink, kind: kind) }
        guard let ts = transStreams[kind] else { return }
        ts.remove(sink)
        if ts.sinkCount == 0 { transStreams[kind] = nil }
    }

    /// Detach from any loop without waiting (sinks call this as they close).
    public nonisolated func detachLater(_ sink: any MediaSink, kind: OutputKind) {
        eventLoop.execute { self.assumeIsolated { $0.detach(sink, kind: kind) } }
    }

    public var playerCounts: [OutputKind: Int] {
        transStreams.mapValues(\.sinkCount)
    }

    /// Each player's counters, read on its own event loop.
    public func playerSnapshots() async -> [PlayerSnapshot] {
        var result: [PlayerSnapshot] = []
        for (sink, kind) in players.values where !(sink is any BackgroundSink) {
            if let inspectable = sink as? any InspectableSink,
               let snap = try? await inspectable.eventLoop.submit({ inspectable.snapshot(kind: kind) }).get() {
                result.append(snap)
            } else {
                result.append(PlayerSnapshot(id: sink.id, kind: kind, session: nil, bytesSent: 0, pendingBytes: 0,
                                             segmentsDropped: 0, seconds: 0))
            }
        }
        return result.sorted { $0.id < $1.id }
    }

    /// Operator kick: closes that player's connection. False when no such player.
    public func kick(_ id: SinkID, reason: String) -> Bool {
        guard let (sink, _) = players[id], let inspectable = sink as? any InspectableSink else { return false }
        inspectable.eventLoop.execute { inspectable.kick(reason: reason) }
        return true
    }

    public func snapshot() -> SourceSnapshot {
        SourceSnapshot(id: id, publisher: publisher, uptimeSeconds: Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9,
                       isReady: isReady, tracks: streams, bytesIn: bytesIn, packetsIn: packetsIn,
                       bitrateIn: meter.bitsPerSecond, videoFPS: meter.videoFPS, gopFrames: meter.gopFrames,
                       players: viewerCounts, recording: isRecording,
                       outputs: transStreams.map { OutputSnapshot(kind: $0.key, sinks: $0.value.sinkCount,
                                                                  mergeWindowMs: $0.value.mergeWindowMs) }
                           .sorted { $0.kind.description < $1.kind.description })
    }

    /// Players by TransStream kind, with the background sinks that count as readers (cascade
    /// senders) and without recordings.
    private var viewerCounts: [OutputKind: Int] {
        var counts: [OutputKind: Int] = [:]
        for (sink, kind) in players.values where !(sink is any BackgroundSink) || (sink as? any BackgroundSink)?.keepsStreamWatched == true {
            counts[kind, default: 0] += 1
        }
        return counts
    }

    public var streams: [AVStream] { isReady ? playable : tracks.keys.sorted().compactMap { tracks[$0] } }

    // MARK: readiness

    /// `playable` has a video track (set with it; read per packet).
    private var hasVideo = false

    private func isConfigured(_ kind: MediaKind) -> Bool {
        tracks.values.contains { $0.kind == kind && (($0.codec != .h264 && $0.codec != .h265 && $0.codec != .aac) || $0.extradata.readableBytes > 0) }
    }

    private func checkReady() {
        guard !isReady, !isClosed else { return }
        let videoOK = expectVideo == false || (isConfigured(.video) && sawVideoKey)
        let audioOK = expectAudio == false || isConfigured(.audio)
        let announced = expectVideo != nil || expectAudio != nil
        if videoOK && audioOK && (announced || !tracks.isEmpty) && !tracks.isEmpty {
            becomeReady()
        }
    }

    private func becomeReady() {
        guard !isReady, !isClosed, !tracks.isEmpty else { return }
        readyTimer?.cancel()
        readyTimer = nil
        playable = tracks.keys.sorted().compactMap { tracks[$0] }.filter {
            $0.kind == .audio ? isConfigured(.audio) : isConfigured(.video)
        }
        guard !playable.isEmpty else { return }
        hasVideo = playable.contains { $0.kind == .video }
        isReady = true
        logger.info("stream playable: \(playable.map { Self.describe($0) }.joined(separator: ", "))")
        if let old = predecessor {
            // Players of the publisher that dropped continue here; new players wait until then.
            predecessor = nil
            let next = self
            old.eventLoop.execute {
                let handover = old.assumeIsolated { $0.handOver(to: next) }
                next.eventLoop.execute { next.assumeIsolated { $0.adopt(handover) } }
            }
            return
        }
        finishReady()
    }

    private func finishReady() {
        guard !isClosed else { return }
        context.registry.markReady(self)
        lifecycle.sourceReady(self)
        context.notify(.streamReady, stream: id, session: publisher, extra: ["tracks": .array(playable.map(\.summary))])
    }

    static func describe(_ s: AVStream) -> String {
        if let v = s.video { return "\(s.codec) \(v.width)x\(v.height)" }
        if let a = s.audio { return "\(s.codec) \(a.sampleRate) Hz \(a.channels) ch" }
        return "\(s.codec)"
    }
}

/// What a lingering source gives the source of the publisher that came back. Passed once from
/// the old source's loop to the new one's, never used by both.
private final class Handover: @unchecked Sendable {
    let transStreams: [OutputKind: TransStream]
    let players: [SinkID: (sink: any MediaSink, kind: OutputKind)]
    let lastOutMs: Int64
    let lifecycle: SourceLifecycle.Handover

    init(transStreams: [OutputKind: TransStream], players: [SinkID: (sink: any MediaSink, kind: OutputKind)], lastOutMs: Int64,
         lifecycle: SourceLifecycle.Handover) {
        self.transStreams = transStreams
        self.players = players
        self.lastOutMs = lastOutMs
        self.lifecycle = lifecycle
    }
}
