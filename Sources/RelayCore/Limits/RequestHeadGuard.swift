import Logging
import NIOCore

/// First in an HTTP-FLV or RTSP pipeline: the first request's head (request line + headers,
/// up to the blank line) must arrive within `timeout` of connecting and fit in `maxBytes`,
/// else the connection is closed with one log line (slowloris, oversized heads). Once the
/// head is complete it removes itself; later bytes pass untouched.
public final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let protocolName: String
    private let timeout: TimeAmount
    private let maxBytes: Int
    /// Sent before closing a connection whose head is too large (e.g. an HTTP 431 response).
    private let tooLargeResponse: ByteBuffer?
    private let logger: Logger
    private var seen = 0
    /// The last bytes seen, to find "\r\n\r\n" across reads.
    private var tail: [UInt8] = []
    private var timer: Scheduled<Void>?
    private var done = false

    public init(protocolName: String, timeoutMs: Int, maxBytes: Int, tooLargeResponse: ByteBuffer? = nil, logger: Logger) {
        self.protocolName = protocolName
        self.timeout = .milliseconds(Int64(timeoutMs))
        self.maxBytes = maxBytes
        self.tooLargeResponse = tooLargeResponse
        self.logger = logger
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil, !done else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let ms = timeout.nanoseconds / 1_000_000
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.refuse(context, "no complete request within \(ms) ms of connecting", response: nil)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        let buffer = unwrapInboundIn(data)
        if let end = headEnd(in: buffer) {
            // Saturating: RTSP passes `.max` (its decoder bounds the head).
            if Self.saturatingSum(seen, end) > maxBytes {
                refuse(context, "request head larger than \(maxBytes) bytes", response: tooLargeResponse)
                return
            }
            done = true
            timer?.cancel()
            timer = nil
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        seen = Self.saturatingSum(seen, buffer.readableBytes)
        if seen > maxBytes {
            refuse(context, "request head larger than \(maxBytes) bytes", response: tooLargeResponse)
            return
        }
        context.fireChannelRead(data)
    }

    private static func saturatingSum(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// Bytes of `buffer` up to and including the end of the head, if it ends in `buffer`.
    private func headEnd(in buffer: ByteBuffer) -> Int? {
        var state = tail
        var index = 0
        for byte in buffer.readableBytesView {
            index += 1
            state.append(byte)
            if state.count > 4 { state.removeFirst() }
            if state == [13, 10, 13, 10] { return index }
            if byte == 10 && state.suffix(2) == [10, 10] { return index }  // bare LF line endings
        }
        tail = state
        return nil
    }

    private func refuse(_ context: ChannelHandlerContext, _ reason: String, response: ByteBuffer?) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        RelayMetrics.parseError(protocol: protocolName)
        logger.warning("closing \(protocolName) connection from \(context.remoteAddress?.displayString ?? "?"): \(reason)")
        if let response {
            let channel = context.channel
            context.writeAndFlush(NIOAny(response)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }
}
