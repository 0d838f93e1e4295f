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
/// as is, one write+flush per segment. State is confined to the channel's event loop.
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
        guard !isClosed, channel.isActive else { return }
        channel.write(startup.header, promise: nil)
        bytesSent &+= UInt64(startup.header.readableBytes)
        // Without a cached key frame the player waits for the next one rather than decode garbage.
        waitingForKey = startup.segments.first?.startsWithKeyFrame != true
        if !waitingForKey {
            for segment in startup.segments {
                channel.write(segment.bytes, promise: nil)
                bytesSent &+= UInt64(segment.bytes.readableBytes)
            }
        }
        channel.flush()
    }

    public func deliver(_ segment: Segment) {
        guard !isClosed else { return }
        if waitingForKey {
            guard segment.startsWithKeyFrame, channel.isWritable else {
                segmentsDropped &+= 1
                return
            }
            waitingForKey = false
        }
        if !channel.isWritable {
            let now = NIODeadline.now()
            let since = stuckSince ?? now
            stuckSince = since
            let pending = pendingBytes
            if now - since > policy.writeTimeout {
                closeSlow("not reading for \(policy.writeTimeout.nanoseconds / 1_000_000) ms (\(pending) bytes pending)")
                return
            }
            if policy.mode == .skip {
                waitingForKey = true
                segmentsDropped &+= 1
                return
            }
            if pending + segment.bytes.readableBytes > policy.maxPendingBytes {
                closeSlow("\(pending) bytes pending exceed max_pending_bytes \(policy.maxPendingBytes)")
                return
            }
        } else {
            stuckSince = nil
        }
        channel.writeAndFlush(segment.bytes, promise: nil)
        bytesSent &+= UInt64(segment.bytes.readableBytes)
    }

    public func sourceEnded() {
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

    public func snapshot(kind: String) -> PlayerSnapshot {
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
