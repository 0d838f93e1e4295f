import Logging
import NIOCore
import RelayCore
import RelayRTP

/// One WHIP publisher: the browser's SRTP, decrypted by the session, put back in order (a short
/// hold for NACK retransmissions to land), depacketized by the shared RTP depacketizers and
/// written to its Source like any ingest. H.264's configuration comes from the in-band SPS/PPS
/// (browsers send them before every key frame); G.711 needs none. Lost packets are asked for
/// again (NACK); key frames are asked for (PLI) every `whip_keyframe_interval_ms`, when a
/// player needs one, and until the first one arrives; REMB tells the browser the bitrate it may
/// use. All calls arrive on the port's loop, the Source's executor.
final class WHIPIngest: WebRTCMedia {
    struct Audio {
        let payloadType: UInt8
        let codec: CodecID
    }

    let source: Source
    private let videoPayloadType: UInt8?
    private let audio: Audio?
    private let config: WebRTCConfig
    private let logger: Logger
    private weak var session: WebRTCSession?
    private let ourSSRC = UInt32.random(in: 1...UInt32.max)

    private var videoOrder = RTPReorderBuffer<RTPPacket>(capacity: 1024, holdNanos: 120_000_000, settleNanos: 0)
    private var video = H26xDepacketizer(codec: .h264)
    private var audioDepacketizer = G711Depacketizer()
    private var nack = NACKTracker()
    private var videoSSRC: UInt32?
    private var configured = false
    private var clock = RTPArrivalClock()
    private var timer: RepeatedTask?
    private var lastPLI: NIODeadline?
    private var lastREMB: NIODeadline?
    private var ended = false
    private(set) var accessUnits: UInt64 = 0

    init(source: Source, videoPayloadType: UInt8?, audio: Audio?, config: WebRTCConfig, logger: Logger) {
        self.source = source
        self.videoPayloadType = videoPayloadType
        self.audio = audio
        self.config = config
        self.logger = logger
    }

    /// Announces the tracks the answer accepted (the source is playable once they are configured).
    func begin(on loop: any EventLoop) {
        let audio = self.audio
        let hasVideo = videoPayloadType != nil
        source.assumeIsolated { source in
            source.expectTracks(video: hasVideo, audio: audio != nil)
            if let audio { source.updateStream(AVStream.g711(audio.codec, index: 1, timebase: 8000)) }
        }
    }

    // MARK: WebRTCMedia

    func transportReady(_ session: WebRTCSession) {
        self.session = session
        let loop = session.channel.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        source.assumeIsolated { source in
            source.setKeyFrameRequester { loop.execute { bound.value.requestKeyFrame(force: false) } }
            source.whenClosed { loop.execute { bound.value.session?.end("the stream was closed") } }
        }
        timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in
            bound.value.tick()
        }
    }

    func receivedRTP(_ datagram: ByteBuffer, session: WebRTCSession) {
        receive(rtp: datagram)
    }

    /// One decrypted RTP packet of the browser's (the pipeline fuzz target feeds these).
    func receive(rtp datagram: ByteBuffer) {
        guard !ended, let packet = try? RTPPacket(parsing: datagram) else { return }
        let now = Self.nowNanos()
        if let videoPayloadType, packet.payloadType == videoPayloadType {
            videoSSRC = packet.ssrc
            nack.received(packet.sequence, now: now)
            var units: [RTPAccessUnit] = []
            videoOrder.push(packet, sequence: packet.sequence, now: now, bytes: packet.payload.readableBytes) { output in
                if case .packet(let p) = output { video.push(p) { units.append($0) } }
            }
            for unit in units { emitVideo(unit) }
        } else if let audio, packet.payloadType == audio.payloadType {
            var units: [RTPAccessUnit] = []
            audioDepacketizer.push(packet) { units.append($0) }
            for unit in units {
                let dts = clock.ticks(track: 1, rtpTime: unit.rtpTime, clockRate: 8000, now: now)
                write(AVPacket(streamIndex: 1, codec: audio.codec, dts: dts, pts: dts, isKeyFrame: true, payload: unit.payload))
            }
        }
    }

    func receivedRTCP(_ compound: ByteBuffer, session: WebRTCSession) {
        // The browser's sender reports and feedback need no answer: NACKs and PLIs are ours to send.
    }

    func sessionEnded(reason: String, dropped: Bool) {
        guard !ended else { return }
        ended = true
        timer?.cancel()
        timer = nil
        source.assumeIsolated { source in
            source.setKeyFrameRequester(nil)
            if dropped {
                source.publisherLeft(reason: "WHIP: \(reason)")
            } else {
                source.close(reason: "WHIP: \(reason)")
            }
        }
    }

    // MARK: media

    private func emitVideo(_ unit: RTPAccessUnit) {
        if unit.parameterSetsChanged || !configured {
            let sets = video.parameterSets
            if let sps = sets.sps, let pps = sets.pps {
                do {
                    let stream = try AVStream.h264(index: 0, timebase: 90_000, sps: [sps], pps: [pps])
                    source.assumeIsolated { $0.updateStream(stream) }
                    configured = true
                } catch {
                    logger.warning("WHIP: unusable H.264 parameter sets: \(error)")
                }
            }
        }
        guard configured else {
            requestKeyFrame(force: false)
            return
        }
        accessUnits &+= 1
        let dts = clock.ticks(track: 0, rtpTime: unit.rtpTime, clockRate: 90_000, now: Self.nowNanos())
        write(AVPacket(streamIndex: 0, codec: .h264, dts: dts, pts: dts, isKeyFrame: unit.isKeyFrame, payload: unit.payload))
    }

    private func write(_ packet: AVPacket) {
        source.assumeIsolated { $0.write(packet) }
    }

    // MARK: feedback

    /// Every 20 ms: held packets whose gap timed out, NACKs due, the periodic PLI and REMB.
    private func tick() {
        guard !ended, let session, session.isConnected else { return }
        let now = Self.nowNanos()
        releaseExpired(now: now)
        if let media = videoSSRC {
            let missing = nack.due(now: now)
            if !missing.isEmpty {
                var out = session.channel.allocator.buffer(capacity: 64 + 4 * missing.count)
                RTCP.writeNACK(sender: ourSSRC, media: media, sequences: missing, into: &out)
                session.sendRTCP(&out)
            }
            let wall = NIODeadline.now()
            if lastREMB.map({ wall - $0 >= .seconds(1) }) ?? true {
                lastREMB = wall
                var out = session.channel.allocator.buffer(capacity: 64)
                RTCP.writeREMB(sender: ourSSRC, bitrate: UInt64(config.whipMaxBitrate), ssrcs: [media], into: &out)
                session.sendRTCP(&out)
            }
        }
        if config.whipKeyFrameIntervalMs > 0, let last = lastPLI,
           NIODeadline.now() - last >= .milliseconds(Int64(config.whipKeyFrameIntervalMs)) {
            requestKeyFrame(force: true)
        }
        session.flush()
    }

    /// Gives up the gaps whose held packets waited long enough, delivering what follows them.
    func releaseExpired(now: Int64) {
        guard let deadline = videoOrder.deadline, deadline <= now else { return }
        var units: [RTPAccessUnit] = []
        videoOrder.expire(now: now) { output in
            if case .packet(let p) = output { video.push(p) { units.append($0) } }
        }
        for unit in units { emitVideo(unit) }
    }

    /// A PLI to the browser: at most every 500 ms unless it is the periodic one.
    func requestKeyFrame(force: Bool) {
        guard !ended, let session, let media = videoSSRC else { return }
        let now = NIODeadline.now()
        if !force, let last = lastPLI, now - last < .milliseconds(500) { return }
        lastPLI = now
        var out = session.channel.allocator.buffer(capacity: 16)
        RTCP.writePLI(sender: ourSSRC, media: media, into: &out)
        session.sendRTCP(&out)
        session.flush()
    }

    static func nowNanos() -> Int64 { Int64(clamping: NIODeadline.now().uptimeNanoseconds) }
}
