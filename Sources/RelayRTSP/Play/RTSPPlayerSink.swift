import Logging
import NIOCore
import RelayCore
import RelayRTP

/// Where a player's RTP goes once PLAY is answered: its TCP connection (a `ChannelSink`, with
/// the slow-player policy) or UDP datagrams.
enum RTPOutput {
    case tcp(ChannelSink)
    case udp(UDPPlayerOutput)
}

/// One RTSP player of an RTP TransStream. It answers PLAY itself, from its first segments (see
/// `PlayStartGate`), then hands them and every later segment to its output. All calls arrive on
/// the RTSP connection's event loop (`eventLoop`; entry points assert it).
final class RTSPPlayerSink: InspectableSink, @unchecked Sendable {
    let id: SinkID
    let eventLoop: any EventLoop
    let layout: RTPChannelLayout
    private let output: RTPOutput
    /// Writes the PLAY response (with RTP-Info from the starts found); called once, before any media.
    private let answer: @Sendable ([UInt8: RTPStart]) -> Void
    private let maxWait: TimeAmount
    private var gate: PlayStartGate?
    private var header = ByteBuffer()
    private var waitTimer: Scheduled<Void>?
    private(set) var starts: [UInt8: RTPStart] = [:]
    private var stopped = false
    let info: SessionInfo
    private let since = NIODeadline.now()
    private let logger: Logger?

    /// How long PLAY may wait for the first packet of a track missing from the cached GOP.
    static let defaultMaxWait = TimeAmount.milliseconds(500)

    init(id: SinkID, eventLoop: any EventLoop, info: SessionInfo, layout: RTPChannelLayout, output: RTPOutput,
         maxWait: TimeAmount = RTSPPlayerSink.defaultMaxWait, logger: Logger? = nil,
         answer: @escaping @Sendable ([UInt8: RTPStart]) -> Void) {
        self.logger = logger
        self.id = id
        self.eventLoop = eventLoop
        self.info = info
        self.layout = layout
        self.output = output
        self.maxWait = maxWait
        self.answer = answer
        self.gate = PlayStartGate(rtpChannels: layout.entries.map(\.rtp))
    }

    func start(_ startup: StartupBytes) {
        eventLoop.assertInEventLoop()
        guard !stopped, var gate else { return }
        header = startup.header
        for segment in startup.segments { gate.offer(segment) }
        self.gate = gate
        if gate.isComplete {
            release()
        } else {
            logger?.info("RTSP PLAY from \(info.remoteAddress) waits for the first packet of channel(s) \(gate.missing): \(startup.segments.count) cached segment(s), \(gate.segments.count) from a key frame")
            waitTimer = eventLoop.scheduleTask(in: maxWait) { [self] in release() }
        }
    }

    func deliver(_ segment: Segment) {
        eventLoop.assertInEventLoop()
        guard !stopped else { return }
        if var gate {
            gate.offer(segment)
            self.gate = gate
            if gate.isComplete { release() }
            return
        }
        switch output {
        case .tcp(let sink): sink.deliver(segment)
        case .udp(let out): out.deliver(segment)
        }
    }

    func sourceEnded() {
        eventLoop.assertInEventLoop()
        guard !stopped else { return }
        if gate != nil { release() }
        stopped = true
        switch output {
        case .tcp(let sink): sink.sourceEnded()
        case .udp(let out): out.sourceEnded(byes: byes())
        }
    }

    /// PAUSE, TEARDOWN or the connection closed: nothing more is written.
    func stop() {
        stopped = true
        waitTimer?.cancel()
        switch output {
        case .tcp(let sink): sink.markClosed()
        case .udp(let out): out.stop()
        }
    }

    func snapshot(kind: OutputKind) -> PlayerSnapshot {
        switch output {
        case .tcp(let sink):
            return sink.snapshot(kind: kind)
        case .udp(let out):
            return PlayerSnapshot(id: id, kind: kind, session: info, bytesSent: out.bytesSent, pendingBytes: out.pendingBytes,
                                  segmentsDropped: out.segmentsDropped, seconds: Double((NIODeadline.now() - since).nanoseconds) / 1e9)
        }
    }

    /// Operator kick: the RTSP connection closes, and the session with it. Over UDP the tracks
    /// first get an RTCP BYE, so the client stops at once instead of waiting for its timeout.
    func kick(reason: String) {
        let playing = gate == nil && !stopped
        stopped = true
        waitTimer?.cancel()
        waitTimer = nil
        switch output {
        case .tcp(let sink): sink.kick(reason: reason)
        case .udp(let out): out.kick(reason: reason, byes: playing ? byes() : ByteBuffer())
        }
    }

    /// Answers PLAY with what is known, then starts the output with the held segments.
    private func release() {
        waitTimer?.cancel()
        waitTimer = nil
        guard let gate, !stopped else { return }
        self.gate = nil
        starts = gate.starts
        answer(gate.starts)
        guard !stopped else { return }  // a pipelined PAUSE or TEARDOWN ran in between
        let startup = StartupBytes(header: header, segments: gate.segments)
        switch output {
        case .tcp(let sink): sink.start(startup)
        case .udp(let out): out.start(startup)
        }
    }

    /// RTCP BYE for every track that sent something, framed on its RTCP channel: written when the
    /// stream ends so players stop at once instead of timing out.
    func byes() -> ByteBuffer {
        var buffer = ByteBuffer()
        for entry in layout.entries {
            guard let start = starts[entry.rtp] else { continue }
            Interleaved.write(channel: entry.rtcp, into: &buffer) { RTCP.writeBye(ssrc: start.ssrc, into: &$0) }
        }
        return buffer
    }
}
