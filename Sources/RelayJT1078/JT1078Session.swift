import Logging
import NIOCore
import RelayCore

/// One stream (`{sim}/{channel}`) carried by a terminal's connection: reassembly, demuxing and
/// its Source. Confined to the connection's event loop.
final class JT1078Publish {
    enum Phase {
        /// Nothing supported seen yet (only unsupported payload types, say).
        case new
        /// Admission under way (on_publish asked, or an older publisher being replaced); media is
        /// queued meanwhile.
        case admitting
        case publishing(Source)
        /// Denied, refused, or its Source closed: the stream's data on this connection is dropped.
        case ended
    }

    let id: String
    let sim: String
    let channel: UInt8
    var phase = Phase.new
    var video: JT1078Reassembler
    var audio: JT1078Reassembler
    var demuxer: JT1078StreamDemuxer
    var logger: Logger
    /// Events held while admission is under way (bounded by `maxQueuedBytes`).
    var queue: [MediaEvent] = []
    var queuedBytes = 0
    var discontinuityLog = RateLimitedLog()

    init(id: String, sim: String, channel: UInt8, maxFrameBytes: Int, audio settings: JT1078AudioSettings, logger: Logger) {
        self.id = id
        self.demuxer = JT1078StreamDemuxer(audio: settings)
        self.sim = sim
        self.channel = channel
        self.video = JT1078Reassembler(video: true, maxFrameBytes: maxFrameBytes)
        self.audio = JT1078Reassembler(video: false, maxFrameBytes: maxFrameBytes)
        var logger = logger
        logger[metadataKey: "stream"] = "\(id)"
        self.logger = logger
    }

    var isEnded: Bool {
        if case .ended = phase { return true }
        return false
    }

    var isPublishing: Bool {
        switch phase {
        case .admitting, .publishing: return true
        case .new, .ended: return false
        }
    }
}

/// One terminal connection: packages from the frame decoder → per-stream reassembly → Sources.
///
/// A stream starts publishing at its first frame of a supported payload type (asking on_publish
/// first when configured); a denied or refused stream is dropped, and the connection is closed
/// once it carries nothing but ended streams. Any protocol error closes this connection only.
final class JT1078ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = JT1078Packet

    private let relay: RelayContext
    private let config: JT1078Config
    private let pinned: JT1078Version?
    private var logger: Logger
    private var remote = "?"
    private var streams: [String: JT1078Publish] = [:]
    private var lastPackage = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var layoutLogged = false
    private var closing = false
    /// Per package: what the reassembler completed and what the demuxer made of it; reused, so a
    /// frame allocates no arrays.
    private var reassembled: [JT1078Reassembler.Event] = []
    private var media: [MediaEvent] = []
    private var garbageLog = RateLimitedLog()
    private var transparentSeen = false
    private var tooManyLogged = false
    private var context: ChannelHandlerContext?

    /// Media held per stream while admission is under way.
    static let maxQueuedBytes = 8 << 20

    init(relay: RelayContext, pinned: JT1078Version?) {
        self.relay = relay
        self.config = relay.config.jt1078
        self.pinned = pinned
        self.logger = relay.logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.remoteAddress?.displayString ?? "?"
        logger[metadataKey: "remote"] = "\(remote)"
        logger.debug("JT/T 1078 connection on port \(context.localAddress?.port ?? 0)")
        lastPackage = .now()
        armTimer(in: receiveTimeout)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let packet = unwrapInboundIn(data)
        lastPackage = .now()
        if !layoutLogged {
            layoutLogged = true
            let how = pinned == nil ? "detected from the first packages" : "pinned by port \(context.localAddress?.port ?? 0)"
            logger.info("\(packet.version) layout (\(how))")
        }
        if packet.discardedBefore > 0, let more = garbageLog.shouldLog() {
            logger.warning("dropped \(packet.discardedBefore) bytes that were no valid \(packet.version) package (garbage, a bad header or a length running into the next package); resynchronised\(suppressed(more))")
        }
        if packet.dataType == .transparent {
            if !transparentSeen {
                transparentSeen = true
                logger.debug("transparent data packages are ignored")
            }
            return
        }
        let id = JT1078StreamID.make(sim: packet.sim, channel: packet.channel, stripLeadingZeros: config.stripLeadingZeros)
        let publish: JT1078Publish
        if let existing = streams[id] {
            publish = existing
        } else {
            guard streams.count < config.maxStreamsPerConnection else {
                if !tooManyLogged {
                    tooManyLogged = true
                    logger.warning("more than \(config.maxStreamsPerConnection) streams on one connection: packages of \(id) and any further stream are dropped")
                }
                return
            }
            publish = JT1078Publish(id: id, sim: packet.sim, channel: packet.channel, maxFrameBytes: config.maxFrameBytes,
                                    audio: config.audio, logger: logger)
            streams[id] = publish
        }
        guard !publish.isEnded else { return }
        receive(packet, for: publish, context: context)
    }

    private func receive(_ packet: JT1078Packet, for publish: JT1078Publish, context: ChannelHandlerContext) {
        reassembled.removeAll(keepingCapacity: true)
        if packet.dataType == .audio {
            publish.audio.push(packet, into: &reassembled)
        } else {
            publish.video.push(packet, into: &reassembled)
        }
        media.removeAll(keepingCapacity: true)
        for event in reassembled {
            switch event {
            case .frame(let frame):
                publish.demuxer.frame(frame, into: &media)
            case .discontinuity(let reason):
                publish.demuxer.discontinuity()
                if let more = publish.discontinuityLog.shouldLog() {
                    publish.logger.warning("\(reason); video resumes at the next key frame\(suppressed(more))")
                }
            case .marksUnreliable:
                publish.logger.notice("the terminal's sub-package marks are wrong: frames are now cut where the timestamp or payload type changes")
            }
        }
        if case .new = publish.phase, JT1078PayloadType.codec(packet.payloadType) != nil {
            begin(publish, version: packet.version, context: context)
        }
        deliver(media, to: publish)
    }

    private func deliver(_ events: [MediaEvent], to publish: JT1078Publish) {
        guard !events.isEmpty else { return }
        for case .notice(let text) in events { publish.logger.notice("\(text)") }
        switch publish.phase {
        case .publishing(let source):
            source.assumeIsolated { source in
                for event in events { source.receive(event) }
            }
        case .admitting:
            for event in events {
                switch event {
                case .stream, .tracks:
                    publish.queue.append(event)
                case .packet(let packet):
                    publish.queuedBytes += packet.payload.readableBytes
                    publish.queue.append(event)
                case .notice:
                    break
                }
            }
            if publish.queuedBytes > Self.maxQueuedBytes {
                // Keep the tracks; the media restarts at the next key frame.
                publish.queue.removeAll { if case .packet = $0 { return true } else { return false } }
                publish.queuedBytes = 0
                publish.demuxer.discontinuity()
            }
        case .new, .ended:
            break
        }
    }

    // MARK: publish

    private func begin(_ publish: JT1078Publish, version: JT1078Version, context: ChannelHandlerContext) {
        let info = SessionInfo(sessionID: String(relay.nextID()), protocolName: "jt1078", remoteAddress: remote,
                               params: ["sim": publish.sim, "channel": String(publish.channel), "version": String(version.rawValue)])
        publish.phase = .admitting
        let bound = NIOLoopBound((self, publish), eventLoop: context.eventLoop)
        relay.admitPublisher(PublishRequest(streamID: publish.id, session: info), on: context.eventLoop) { result in
            let (handler, publish) = bound.value
            guard case .admitting = publish.phase, !handler.closing, let context = handler.context else {
                if case .success(let source) = result { source.assumeIsolated { $0.close(reason: "publisher left during admission") } }
                return
            }
            switch result {
            case .success(let source): handler.startPublishing(publish, source: source, context: context)
            case .failure(.denied(let reason)): handler.end(publish, "publish denied: \(reason)", warning: true)
            case .failure(let refusal): handler.end(publish, "refused: \(refusal)", warning: true)
            }
        }
    }

    private func startPublishing(_ publish: JT1078Publish, source: Source, context: ChannelHandlerContext) {
        publish.phase = .publishing(source)
        publish.logger.info("JT/T 1078 publish started: SIM \(publish.sim), channel \(publish.channel)")
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, publish), eventLoop: loop)
        source.assumeIsolated { src in
            src.whenClosed {
                loop.execute {
                    let (handler, publish) = bound.value
                    handler.sourceClosed(publish, source)
                }
            }
        }
        let queued = publish.queue
        publish.queue.removeAll()
        publish.queuedBytes = 0
        deliver(queued, to: publish)
    }

    /// The Source closed without us (operator, receive timeout, takeover): the stream's data on
    /// this connection is dropped from now on.
    private func sourceClosed(_ publish: JT1078Publish, _ source: Source) {
        guard case .publishing(let current) = publish.phase, current === source else { return }
        publish.phase = .ended
        publish.logger.info("stream \(publish.id) was closed by the server: its packages on this connection are dropped")
        closeIfNothingLeft()
    }

    /// Ends one stream: closes its Source (if any) and forgets its data.
    private func end(_ publish: JT1078Publish, _ reason: String, warning: Bool = false) {
        let phase = publish.phase
        publish.phase = .ended
        publish.queue.removeAll()
        if warning {
            publish.logger.warning("JT/T 1078 stream \(publish.id) from \(remote): \(reason)")
        } else {
            publish.logger.info("JT/T 1078 stream \(publish.id) from \(remote) ended: \(reason)")
        }
        if case .publishing(let source) = phase {
            source.assumeIsolated { $0.close(reason: "JT/T 1078: \(reason)") }
        }
        closeIfNothingLeft()
    }

    private func closeIfNothingLeft() {
        guard !closing, !streams.isEmpty, streams.values.allSatisfy(\.isEnded), let context else { return }
        fail(context, "no stream left to publish on this connection", warning: false)
    }

    // MARK: connection

    private var receiveTimeout: TimeAmount { .milliseconds(Int64(config.receiveTimeoutMs)) }

    private func armTimer(in delay: TimeAmount) {
        guard config.receiveTimeoutMs > 0, let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            bound.value.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard !closing, let context else { return }
        // Publishing streams time out by their Source's receive timer (and its hook).
        if streams.values.contains(where: \.isPublishing) {
            armTimer(in: receiveTimeout)
            return
        }
        let quiet = NIODeadline.now() - lastPackage
        if quiet >= receiveTimeout {
            fail(context, "no valid JT/T 1078 package for \(config.receiveTimeoutMs) ms", warning: true)
            return
        }
        armTimer(in: receiveTimeout - quiet)
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String, warning: Bool = true, dropped: Bool = false) {
        guard !closing else { return }
        closing = true
        if warning {
            logger.warning("closing JT/T 1078 connection from \(remote): \(reason)")
        } else {
            logger.info("closing JT/T 1078 connection from \(remote): \(reason)")
        }
        endAll(reason, dropped: dropped)
        context.close(promise: nil)
    }

    /// `dropped`: the terminal's connection was lost (not refused or failed by us): players of its
    /// streams may wait `publisher_grace_ms` for it to reconnect.
    private func endAll(_ reason: String, dropped: Bool = false) {
        for publish in streams.values where !publish.isEnded {
            if case .publishing(let source) = publish.phase {
                // Frames still held back for the next package go out first.
                var events: [JT1078Reassembler.Event] = []
                publish.video.finish(into: &events)
                publish.audio.finish(into: &events)
                var media: [MediaEvent] = []
                for case .frame(let frame) in events { publish.demuxer.frame(frame, into: &media) }
                deliver(media, to: publish)
                publish.phase = .ended
                if dropped {
                    source.assumeIsolated { $0.publisherLeft(reason: "JT/T 1078: \(reason)") }
                } else {
                    source.assumeIsolated { $0.close(reason: "JT/T 1078: \(reason)") }
                }
            } else {
                publish.phase = .ended
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ByteToMessageDecoderError || error is JT1078Error {
            RelayMetrics.parseError(protocol: "jt1078")
            fail(context, "\(error)")
        } else {
            logger.debug("JT/T 1078 connection error from \(remote): \(error)")
            fail(context, "connection error: \(error)", warning: false, dropped: true)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if !closing {
            closing = true
            if !streams.isEmpty { logger.info("JT/T 1078 connection from \(remote) closed by the terminal") }
            endAll("connection closed", dropped: true)
        }
        context.fireChannelInactive()
    }
}
