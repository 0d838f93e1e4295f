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
    private var sawVideoKey = false
    private var readyTimer: Scheduled<Void>?
    public private(set) var isReady = false
    public private(set) var isClosed = false

    private var gop: GOPCache
    private var transStreams: [String: TransStream] = [:]
    private var onClose: [@Sendable () -> Void] = []

    public private(set) var packetsIn: UInt64 = 0
    public private(set) var bytesIn: UInt64 = 0
    private var meter = RateMeter()
    private var players: [SinkID: (sink: any MediaSink, kind: String)] = [:]

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
        expectAudio = audio
        checkReady()
    }

    /// A new track or a changed configuration (sequence header).
    public func updateStream(_ stream: AVStream) {
        guard !isClosed else { return }
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
        for ts in transStreams.values { ts.write(packet, stream: stream) }
    }

    /// The publisher left (or the source is being closed by an operator): end every player.
    public func close(reason: String) {
        guard !isClosed else { return }
        isClosed = true
        readyTimer?.cancel()
        logger.info("source closed: \(reason)")
        for ts in transStreams.values { ts.end() }
        transStreams.removeAll()
        for (sink, kind) in players.values { context.totals.playerLeft(sink, kind: kind) }
        players.removeAll()
        context.totals.sourceEnded(protocol: publisher.protocolName, bytesIn: bytesIn)
        gop.clear()
        context.registry.unregister(self)
        lifecycle.sourceClosed(reason: reason, bytesIn: bytesIn, packetsIn: packetsIn, startedAt: startedAt)
        let callbacks = onClose
        onClose.removeAll()
        for cb in callbacks { cb() }
    }

    /// Runs when the source closes (the publisher session uses it to hang up on operator close).
    public func whenClosed(_ body: @escaping @Sendable () -> Void) {
        if isClosed { body() } else { onClose.append(body) }
    }

    // MARK: player side

    /// Adds a player of protocol `kind`; false when the source is gone or the kind unknown.
    ///
    /// `muxer` makes the TransStream's muxer for kinds that are not registered in the context
    /// (kinds with parameters, e.g. RTSP interleaved channel layouts); players that share a kind
    /// share its bytes.
    public func attach(_ sink: any MediaSink, kind: String, muxer: MuxerFactory? = nil) -> Bool {
        guard isReady, !isClosed else { return false }
        let ts: TransStream
        if let existing = transStreams[kind] {
            ts = existing
        } else {
            guard let factory = muxer ?? context.muxers[kind] else { return false }
            ts = TransStream(kind: kind, muxer: factory.make(), streams: playable,
                             mergeWindowMs: config.mergeWriteMs, maxGOPBytes: max(config.gopCacheMaxBytes, 1))
            for packet in gop.packets {
                if let stream = tracks[packet.streamIndex] { ts.write(packet, stream: stream) }
            }
            transStreams[kind] = ts
        }
        ts.add(sink)
        players[sink.id] = (sink, kind)
        lifecycle.playerAttached(sink, kind: kind)
        return true
    }

    /// Removes a player; the TransStream goes when its last player does (no muxing for nobody).
    public func detach(_ sink: any MediaSink, kind: String) {
        lifecycle.playerDetached(sink)
        if players.removeValue(forKey: sink.id) != nil { context.totals.playerLeft(sink, kind: kind) }
        guard let ts = transStreams[kind] else { return }
        ts.remove(sink)
        if ts.sinkCount == 0 { transStreams[kind] = nil }
    }

    /// Detach from any loop without waiting (sinks call this as they close).
    public nonisolated func detachLater(_ sink: any MediaSink, kind: String) {
        eventLoop.execute { self.assumeIsolated { $0.detach(sink, kind: kind) } }
    }

    public var playerCounts: [String: Int] {
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
                       players: viewerCounts, recording: isRecording)
    }

    /// Players by TransStream kind, without background sinks (recordings).
    private var viewerCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for (sink, kind) in players.values where !(sink is any BackgroundSink) { counts[kind, default: 0] += 1 }
        return counts
    }

    public var streams: [AVStream] { isReady ? playable : tracks.keys.sorted().compactMap { tracks[$0] } }

    // MARK: readiness

    private var hasVideo: Bool { playable.contains { $0.kind == .video } }

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
        isReady = true
        logger.info("stream playable: \(playable.map { Self.describe($0) }.joined(separator: ", "))")
        context.registry.markReady(self)
        lifecycle.sourceReady(self)
    }

    static func describe(_ s: AVStream) -> String {
        if let v = s.video { return "\(s.codec) \(v.width)x\(v.height)" }
        if let a = s.audio { return "\(s.codec) \(a.sampleRate) Hz \(a.channels) ch" }
        return "\(s.codec)"
    }
}
