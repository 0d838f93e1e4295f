import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// Where a sender's packets go: a TCP connection (RFC 4571 framed segments as they are, with
/// the players' slow-peer policy) or UDP datagrams.
enum GBSenderOutput {
    case tcp(ChannelSink)
    case udp(GBSenderUDPOutput)
}

/// What a sender has sent, readable from any thread (the admin API, metrics, the stop hook).
struct GBSenderCounters: Sendable {
    /// Bytes written to the socket (TCP: with the 2-byte RFC 4571 prefixes).
    var bytes: UInt64 = 0
    var packets: UInt64 = 0
    /// Segments skipped because the peer or the socket could not keep up.
    var segmentsDropped: UInt64 = 0
}

/// The sender as its Source sees it: a background sink of the `.rtpPS` TransStream (no
/// on_play_done) that counts as a reader: a stream forwarded upstream is watched there, so it
/// does not idle and its viewer count includes the sender. Calls arrive on `eventLoop` (the
/// socket's and the source's loop).
final class GBSenderSink: BackgroundSink, @unchecked Sendable {
    let id: SinkID
    var keepsStreamWatched: Bool { true }
    let eventLoop: any EventLoop
    private let output: GBSenderOutput
    let counters: NIOLockedValueBox<GBSenderCounters>
    private var tcpPackets: UInt64 = 0
    /// The stream ended under the sender (called once, on `eventLoop`).
    private let onEnd: () -> Void
    private var ended = false

    init(id: SinkID, eventLoop: any EventLoop, output: GBSenderOutput, counters: NIOLockedValueBox<GBSenderCounters>,
         onEnd: @escaping () -> Void) {
        self.id = id
        self.eventLoop = eventLoop
        self.output = output
        self.counters = counters
        self.onEnd = onEnd
    }

    func start(_ startup: StartupBytes) {
        eventLoop.assertInEventLoop()
        switch output {
        case .tcp(let sink):
            let before = sink.bytesSent
            sink.start(startup)
            if sink.bytesSent > before { for s in startup.segments { tcpPackets &+= Self.frameCount(s.bytes) } }
        case .udp(let out):
            out.start(startup)
        }
        publish()
    }

    func deliver(_ segment: Segment) {
        eventLoop.assertInEventLoop()
        switch output {
        case .tcp(let sink):
            let before = sink.bytesSent
            sink.deliver(segment)
            if sink.bytesSent > before { tcpPackets &+= Self.frameCount(segment.bytes) }
        case .udp(let out):
            out.deliver(segment)
        }
        publish()
    }

    func sourceEnded() {
        eventLoop.assertInEventLoop()
        guard !ended else { return }
        ended = true
        onEnd()
    }

    /// Nothing more is written (the sender stopped).
    func stop() {
        ended = true
        switch output {
        case .tcp(let sink): sink.markClosed()
        case .udp(let out): out.stop()
        }
    }

    private func publish() {
        let c: GBSenderCounters
        switch output {
        case .tcp(let sink):
            c = GBSenderCounters(bytes: sink.bytesSent, packets: tcpPackets, segmentsDropped: sink.segmentsDropped)
        case .udp(let out):
            c = GBSenderCounters(bytes: out.bytesSent, packets: out.packetsSent, segmentsDropped: out.segmentsDropped)
        }
        counters.withLockedValue { $0 = c }
    }

    /// RFC 4571 frames in a segment (walks the length prefixes only).
    static func frameCount(_ bytes: ByteBuffer) -> UInt64 {
        var at = bytes.readerIndex
        var n: UInt64 = 0
        while let length = bytes.getInteger(at: at, as: UInt16.self), at + 2 + Int(length) <= bytes.writerIndex {
            at += 2 + Int(length)
            n &+= 1
        }
        return n
    }
}
