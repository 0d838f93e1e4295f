import Logging
import NIOCore

/// How a player that cannot keep up is treated. A slow player never slows the others: its pending
/// bytes are bounded, and it is closed (or skips ahead) on its own.
public struct SlowPlayerPolicy: Sendable {
    public enum Mode: String, Sendable { case close, skip }
    public var mode: Mode
    public var maxPendingBytes: Int
    public var writeTimeout: TimeAmount

    public init(mode: Mode, maxPendingBytes: Int, writeTimeout: TimeAmount) {
        self.mode = mode
        self.maxPendingBytes = maxPendingBytes
        self.writeTimeout = writeTimeout
    }

    public init(_ config: RelayConfig.Player) {
        self.init(mode: Mode(rawValue: config.slowPolicy) ?? .close, maxPendingBytes: config.maxPendingBytes,
                  writeTimeout: .milliseconds(Int64(config.writeTimeoutMs)))
    }
}

/// A player on a TCP connection (RTMP, HTTP-FLV, RTSP interleaved): writes each shared segment
/// as is, one write+flush per segment. State is confined to the channel's event loop (its entry
/// points assert it).
public final class ChannelSink: InspectableSink, @unchecked Sendable {
    public let id: SinkID
    public let channel: any Channel
    public var eventLoop: any EventLoop { channel.eventLoop }
    public let info: SessionInfo
    public let since: NIODeadline = .now()
    private let policy: SlowPlayerPolicy
    private let logger: Logger
    /// Written after the last segment when the source ends (HTTP chunked terminator, RTMP EOF …).
    private let trailer: (@Sendable () -> ByteBuffer?)?

    private var waitingForKey = false
    private var stuckSince: NIODeadline?
    private var isClosed = false
    public private(set) var bytesSent: UInt64 = 0
    private var writesIssued: UInt64 = 0
    private var writesDone: UInt64 = 0
    public private(set) var segmentsDropped: UInt64 = 0
    /// Called once (on the channel's loop) when this sink closes itself (slow, or source ended).
    public var onClose: (@Sendable (String) -> Void)?

    public init(id: SinkID, channel: any Channel, info: SessionInfo, policy: SlowPlayerPolicy, logger: Logger,
                trailer: (@Sendable () -> ByteBuffer?)? = nil) {
        self.id = id
        self.channel = channel
        self.info = info
        self.policy = policy
        self.logger = logger
        self.trailer = trailer
    }

    public func start(_ startup: StartupBytes) {
        eventLoop.assertInEventLoop()
        guard !isClosed, channel.isActive else { return }
        send(startup.header, flush: false)
        // Without a cached key frame the player waits for the next one rather than decode garbage.
        waitingForKey = startup.segments.first?.startsWithKeyFrame != true
        if !waitingForKey {
            for segment in startup.segments { send(segment.bytes, flush: false) }
        }
        channel.flush()
    }

    public func deliver(_ segment: Segment) {
        eventLoop.assertInEventLoop()
        guard !isClosed else { return }
        if waitingForKey {
            guard segment.startsWithKeyFrame, channel.isWritable else {
                segmentsDropped &+= 1
                return
            }
            waitingForKey = false
        }
        let writable = channel.isWritable
        if !writable || queuedWrites >= Self.queuedWritesChecked {
            // Slow, or a flood of tiny segments: NIO's writability counts bytes only, so count
            // each queued write's own cost too (`MemoryCost.pendingWriteOverhead`).
            let now = NIODeadline.now()
            if writable {
                stuckSince = nil
            } else {
                let since = stuckSince ?? now
                stuckSince = since
                if now - since > policy.writeTimeout {
                    closeSlow("not reading for \(policy.writeTimeout.nanoseconds / 1_000_000) ms (\(pendingBytes) bytes pending)")
                    return
                }
            }
            if policy.mode == .skip && !writable {
                waitingForKey = true
                segmentsDropped &+= 1
                return
            }
            let pending = pendingCost
            if pending + segment.bytes.readableBytes + MemoryCost.pendingWriteOverhead > policy.maxPendingBytes {
                if policy.mode == .skip {
                    waitingForKey = true
                    segmentsDropped &+= 1
                    return
                }
                closeSlow("\(pending) bytes pending (\(queuedWrites) writes) exceed max_pending_bytes \(policy.maxPendingBytes)")
                return
            }
        } else {
            stuckSince = nil
        }
        send(segment.bytes, flush: true)
    }

    /// Writes one shared buffer. Every `completionMarkInterval`-th write carries a promise whose
    /// completion tells how many writes have left NIO's queue (writes complete in order), which
    /// bounds the queued-write count without a promise per write.
    private func send(_ bytes: ByteBuffer, flush: Bool) {
        writesIssued &+= 1
        bytesSent &+= UInt64(bytes.readableBytes)
        var promise: EventLoopPromise<Void>?
        if writesIssued % Self.completionMarkInterval == 0 {
            let mark = writesIssued
            let p = channel.eventLoop.makePromise(of: Void.self)
            p.futureResult.whenComplete { [self] _ in if mark > writesDone { writesDone = mark } }
            promise = p
        }
        if flush {
            channel.writeAndFlush(bytes, promise: promise)
        } else {
            channel.write(bytes, promise: promise)
        }
    }

    /// Writes not yet known to be done (an upper bound, off by less than the mark interval).
    private var queuedWrites: Int { Int(clamping: writesIssued &- writesDone) }

    /// What this player's queue really holds: its bytes plus each queued write's overhead.
    private var pendingCost: Int { pendingBytes + queuedWrites * MemoryCost.pendingWriteOverhead }

    static let completionMarkInterval: UInt64 = 32
    /// Below this many queued writes (and writable) the fast path skips the cost check.
    static let queuedWritesChecked = 256

    public func sourceEnded() {
        eventLoop.assertInEventLoop()
        guard !isClosed else { return }
        isClosed = true
        if let bytes = trailer?(), channel.isActive {
            channel.writeAndFlush(bytes).whenComplete { [channel] _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
        onClose?("stream ended")
    }

    /// The connection went away on its own; stop writing.
    public func markClosed() {
        isClosed = true
    }

    public func snapshot(kind: OutputKind) -> PlayerSnapshot {
        PlayerSnapshot(id: id, kind: kind, session: info, bytesSent: bytesSent, pendingBytes: pendingBytes,
                       segmentsDropped: segmentsDropped, seconds: Double((NIODeadline.now() - since).nanoseconds) / 1e9)
    }

    public func kick(reason: String) {
        guard !isClosed else { return }
        isClosed = true
        logger.info("closing player \(info.remoteAddress) (\(info.protocolName)): \(reason)")
        channel.close(promise: nil)
        onClose?(reason)
    }

    public var pendingBytes: Int {
        (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
    }

    private func closeSlow(_ why: String) {
        isClosed = true
        logger.warning("closing slow player \(info.remoteAddress) (\(info.protocolName)): \(why)")
        RelayMetrics.slowPlayerDropped(protocol: info.protocolName)
        channel.close(promise: nil)
        onClose?("slow player: \(why)")
    }
}
