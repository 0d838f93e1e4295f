import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayFLV
import RelayRTMP

/// What the publisher has done so far (read from any thread).
public struct PublisherStats: Sendable, Equatable {
    public var state = "idle"
    /// Connections that reached NetStream.Publish.Start.
    public var sessions = 0
    /// Connection attempts made after a lost or refused connection.
    public var reconnects = 0
    public var videoFramesSent = 0
    public var audioFramesSent = 0
    /// Bytes written to the socket (chunk headers included), over all connections.
    public var bytesSent: UInt64 = 0
    /// Frames not sent because there was no live connection or it was waiting for a key frame.
    public var framesSkipped = 0
    /// Frames dropped because the socket could not take them (send buffer over its high mark).
    public var framesDroppedCongested = 0
    public var lastError: String?
}

/// The RTMP push of the camera: an event-loop consumer of the dispatcher. It connects,
/// publishes, sends metadata and sequence headers then the frames as they come, and when the
/// connection is lost or refused reconnects after an exponential back-off with jitter,
/// resuming on the next key frame. All state lives on `loop`.
public final class RTMPPublisher: FrameConsumer, @unchecked Sendable {
    public struct Options: Sendable {
        public var url: RTMPPublishURL
        public var chunkSize = 4096
        public var hevcMode = HEVCFLVMode.enhanced
        public var backoff = Backoff()
        /// Time from TCP connect to NetStream.Publish.Start before giving up on an attempt.
        public var publishTimeout = TimeAmount.seconds(10)
        public var connectTimeout = TimeAmount.seconds(5)
        /// The audio track, when there is one (known before the first frame).
        public var audio: AVStream?
        /// Nominal frame rate, for onMetaData.
        public var frameRate: Double = 25
        /// Above this many bytes queued in the socket, frames are dropped until the next key frame.
        public var sendBufferHighWater = 4 << 20

        public init(url: RTMPPublishURL) {
            self.url = url
        }
    }

    public let name = "rtmp"
    public let loop: any EventLoop
    public var delivery: FrameDelivery { .eventLoop(loop) }
    public let options: Options
    private let logger: Logger
    private let counters = NIOLockedValueBox(PublisherStats())

    // Loop state.
    private var session: RTMPPublishSession?
    private var sessionCounter = 0
    /// The last connection attempt whose end was handled (a failed connect can be reported twice).
    private var endedSession = 0
    private var attempt = 0
    private var liveSince: NIODeadline?
    private var retry: Scheduled<Void>?
    private var started = false
    private var stopping = false
    private var needKeyFrame = true
    private var baseTimestamp: Int64?
    private var sentVideoGeneration = -1
    private var metadataSent = false
    private var bytesOfEndedSessions: UInt64 = 0
    private let allocator = ByteBufferAllocator()
    private var scratch = ByteBufferAllocator().buffer(capacity: 16)

    public init(options: Options, loop: any EventLoop, logger: Logger) {
        self.options = options
        self.loop = loop
        self.logger = logger
    }

    public var stats: PublisherStats { counters.withLockedValue { $0 } }

    /// Starts connecting (idempotent).
    public func start() {
        loop.execute { [self] in
            guard !started else { return }
            started = true
            connect()
        }
    }

    /// Unpublishes and closes; no reconnect after this. Completes once the connection is closed.
    public func stop() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            stopping = true
            retry?.cancel()
            retry = nil
            counters.withLockedValue { $0.state = "stopped" }
            return session?.unpublishAndClose() ?? loop.makeSucceededVoidFuture()
        }
    }

    // MARK: - FrameConsumer

    public func consume(_ frame: CameraFrame) {
        loop.assertInEventLoop()
        guard let session, session.phase == .live, !stopping else {
            counters.withLockedValue { $0.framesSkipped += 1 }
            return
        }
        // The camera always has video: audio also waits for the first key frame, so the
        // connection's timestamps start at a picture a player can decode.
        if needKeyFrame && !(frame.isVideo && frame.isKeyFrame) {
            counters.withLockedValue { $0.framesSkipped += 1 }
            return
        }
        if !session.isWritable {
            // Congested: drop, and resume only on a key frame so the picture stays decodable.
            needKeyFrame = true
            counters.withLockedValue { $0.framesDroppedCongested += 1 }
            return
        }
        let base = baseTimestamp ?? frame.timestampMs
        baseTimestamp = base
        let timestamp = UInt32(truncatingIfNeeded: max(0, frame.timestampMs - base))
        if frame.isVideo {
            if !metadataSent {
                sendMetadata(video: frame.track.stream, session: session)
                metadataSent = true
                if let audio = options.audio, audio.codec == .aac { sendAACSequenceHeader(audio, session: session) }
            }
            if frame.track.generation != sentVideoGeneration {
                sendVideoSequenceHeader(frame.track.stream, timestamp: timestamp, session: session)
                sentVideoGeneration = frame.track.generation
            }
            needKeyFrame = false
            scratch.clear()
            FLVVideo.writeHeader(codec: frame.packet.codec, isKeyFrame: frame.isKeyFrame, compositionTime: 0,
                                 hevcMode: options.hevcMode, into: &scratch)
            writeMessage(csid: 6, timestamp: timestamp, type: .video, prefix: scratch, body: frame.packet.payload,
                         session: session)
        } else {
            guard let audio = frame.track.stream.audio else { return }
            scratch.clear()
            FLVAudio.writeHeader(codec: frame.packet.codec, audio: audio, isSequenceHeader: false, into: &scratch)
            writeMessage(csid: 4, timestamp: timestamp, type: .audio, prefix: scratch, body: frame.packet.payload,
                         session: session)
        }
        session.flush()
        let sent = session.bytesOut
        let ended = bytesOfEndedSessions
        counters.withLockedValue {
            if frame.isVideo { $0.videoFramesSent += 1 } else { $0.audioFramesSent += 1 }
            $0.bytesSent = ended + sent
        }
    }

    public func finish() {}

    // MARK: - Sending

    private func writeMessage(csid: UInt32, timestamp: UInt32, type: RTMPMessageType, prefix: ByteBuffer,
                              body: ByteBuffer, session: RTMPPublishSession) {
        RTMPChunkEncoder.write(chunkStreamID: csid, timestamp: timestamp, typeID: type.rawValue,
                               messageStreamID: session.streamID, prefix: prefix, body: body,
                               chunkSize: session.chunkSize, allocator: allocator) { session.write($0) }
    }

    private func sendMetadata(video: AVStream, session: RTMPPublishSession) {
        var streams = [video]
        if let audio = options.audio { streams.append(audio) }
        var meta = FLVMetadata.amf(streams: streams, hevcMode: options.hevcMode)
        if case .ecmaArray(var props) = meta {
            props.removeAll { $0.key == "encoder" }
            props.append(AMF0Property("framerate", .number(options.frameRate)))
            props.append(AMF0Property("encoder", .string("relay-camera")))
            meta = .ecmaArray(props)
        }
        session.send(.data([.string("@setDataFrame"), .string("onMetaData"), meta],
                           messageStreamID: session.streamID, chunkStreamID: 5))
    }

    private func sendVideoSequenceHeader(_ stream: AVStream, timestamp: UInt32, session: RTMPPublishSession) {
        var body = allocator.buffer(capacity: stream.extradata.readableBytes + 8)
        guard FLVTagBody.writeSequenceHeader(stream, hevcMode: options.hevcMode, into: &body) != nil else { return }
        writeMessage(csid: 6, timestamp: timestamp, type: .video, prefix: ByteBuffer(), body: body, session: session)
    }

    private func sendAACSequenceHeader(_ stream: AVStream, session: RTMPPublishSession) {
        var body = allocator.buffer(capacity: stream.extradata.readableBytes + 2)
        guard FLVTagBody.writeSequenceHeader(stream, hevcMode: options.hevcMode, into: &body) != nil else { return }
        writeMessage(csid: 4, timestamp: 0, type: .audio, prefix: ByteBuffer(), body: body, session: session)
    }

    // MARK: - Connecting

    private func connect() {
        guard !stopping else { return }
        sessionCounter += 1
        let id = sessionCounter
        let url = options.url
        counters.withLockedValue { $0.state = "connecting" }
        logger.debug("connecting to \(url.tcURL)")
        let bound = NIOLoopBound(self, eventLoop: loop)
        let water = options.sendBufferHighWater
        ClientBootstrap(group: loop)
            .connectTimeout(options.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: water / 2, high: water))
            .channelInitializer { [options, logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = RTMPPublishSession(
                        id: id, url: url, chunkSize: options.chunkSize,
                        enhancedHEVC: options.hevcMode == .enhanced, timeout: options.publishTimeout,
                        delegate: bound.value, logger: logger)
                    bound.value.session = session
                    try channel.pipeline.syncOperations.addHandler(session)
                }
            }
            .connect(host: url.host, port: url.port)
            .whenFailure { error in
                bound.value.lost(id: id, reason: "cannot connect: \(error)")
            }
    }

    /// A connection (attempt) `id` ended: schedule the next one after the back-off.
    private func lost(id: Int, reason: String) {
        loop.assertInEventLoop()
        guard id == sessionCounter, id != endedSession else { return }
        endedSession = id
        if let s = session, s.id == id {
            bytesOfEndedSessions &+= s.bytesOut
            session = nil
        }
        guard !stopping else { return }
        if let since = liveSince, NIODeadline.now() - since > .seconds(5) { attempt = 0 }
        liveSince = nil
        let delay = options.backoff.delay(attempt: attempt)
        attempt += 1
        let count = counters.withLockedValue {
            $0.reconnects += 1
            $0.state = "waiting to reconnect"
            $0.lastError = reason
            return $0.reconnects
        }
        logger.warning("RTMP \(options.url): \(reason); reconnect #\(count) in \(String(format1: delay)) s")
        retry = loop.scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) { [self] in
            retry = nil
            connect()
        }
    }
}

extension RTMPPublisher: RTMPPublishSessionDelegate {
    func sessionLive(_ session: RTMPPublishSession, streamID: UInt32) {
        guard session.id == sessionCounter else { return }
        liveSince = .now()
        needKeyFrame = true
        baseTimestamp = nil
        sentVideoGeneration = -1
        metadataSent = false
        let sessions = counters.withLockedValue {
            $0.sessions += 1
            $0.state = "publishing"
            return $0.sessions
        }
        logger.info("RTMP publishing to \(options.url) (stream id \(streamID), session \(sessions))")
    }

    func sessionEnded(_ session: RTMPPublishSession, reason: String) {
        lost(id: session.id, reason: reason)
    }
}

extension String {
    /// One decimal place, without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
