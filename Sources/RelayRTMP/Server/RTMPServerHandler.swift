import Logging
import NIOCore
import RelayCore
import RelayFLV

/// One RTMP connection: handshake, chunk stream and protocol control here; commands (publish,
/// play …) in RTMPServerHandler+Commands.swift.
///
/// Any protocol error closes this connection only, with a log line naming the peer.
final class RTMPServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Role {
        case none
        case publishing(Source)
        /// Publish or play admission is under way (hook, takeover, waiting for the stream).
        case admitting
        case playing(Source, ChannelSink)
    }

    let relay: RelayContext
    var logger: Logger
    private var handshake = RTMPHandshakeServer()
    private var handshakeDone = false
    private var decoder: RTMPChunkDecoder
    private var cumulation = ReadCumulation()
    private var timeout: Scheduled<Void>?
    private var closing = false

    var role: Role = .none
    /// The publisher's media reader, kept out of `role` so a message mutates it in place (an enum
    /// payload would be copied out and back for every frame).
    var reader = RTMPMediaReader()
    /// What the reader made of one message; reused, so a frame allocates no array.
    private var events: [MediaEvent] = []
    var app = ""
    var appParams: [String: String] = [:]
    var remote = "?"
    let outChunkSize: Int

    private var acks = Acknowledgements(minimumWindow: 4096)

    init(relay: RelayContext) {
        self.relay = relay
        self.logger = relay.logger
        self.outChunkSize = relay.config.rtmp.chunkSize
        // Until `connect`, every message is capped tiny: nothing a client legitimately sends
        // before it is bigger, and AMF from an unauthenticated peer is the cheapest flood.
        let config = relay.config.rtmp
        let early = min(config.maxBytesBeforeConnect, config.maxCommandBytes)
        self.decoder = RTMPChunkDecoder(maxMessageSize: min(early, config.maxMessageSize), maxCommandSize: early,
                                        maxChunkSize: config.maxChunkSize,
                                        maxPendingBytes: 4 * max(config.maxMessageSize, config.maxCommandBytes))
    }

    /// A `connect` command arrived: later messages get the configured limits.
    func didConnect() {
        decoder.maxMessageSize = relay.config.rtmp.maxMessageSize
        decoder.maxCommandSize = relay.config.rtmp.maxCommandBytes
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.remoteAddress?.displayString ?? "?"
        logger[metadataKey: "remote"] = "\(remote)"
        armStartTimeout(context: context, reason: "of connecting")
        context.fireChannelActive()
    }

    /// Handshake + connect + publish/play must finish within `handshake_timeout_ms`; armed at
    /// accept, and again when a stream is unpublished/deleted and the connection sits idle.
    func armStartTimeout(context: ChannelHandlerContext, reason: String) {
        timeout?.cancel()
        let ms = relay.config.rtmp.handshakeTimeoutMs
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
            let (handler, context) = bound.value
            handler.fail(context, "no publish or play within \(ms) ms \(reason)")
        }
    }

    /// Publish or play started: the connection is no longer "idle after connect".
    func cancelTimeout() {
        timeout?.cancel()
        timeout = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let incoming = unwrapInboundIn(data)
        acks.received(incoming.readableBytes)
        do {
            try cumulation.parse(incoming) { try process(&$0, context: context) }
        } catch {
            RelayMetrics.parseError(protocol: "rtmp")
            fail(context, "\(error)")
            return
        }
        if let ack = acks.due() {
            send(ack, context: context)
            context.flush()
        }
    }

    private func process(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) throws {
        if !handshakeDone {
            guard try handshake.advance(&buffer, send: { context.writeAndFlush(wrapOutboundOut($0), promise: nil) }) else { return }
            handshakeDone = true
        }
        while !closing, let message = try decoder.next(from: &buffer) {
            try handle(message, context: context)
        }
    }

    private func handle(_ message: RTMPMessage, context: ChannelHandlerContext) throws {
        switch message.type {
        case .audio?, .video?, .aggregate?, .dataAMF0?, .dataAMF3?:
            try handlePublished(message)
        case .commandAMF0?, .commandAMF3?:
            try handleCommand(RTMPCommand(message: message), context: context)
        case .setChunkSize?, .abort?, .acknowledgement?, .windowAckSize?, .setPeerBandwidth?, .userControl?:
            if let control = try RTMPControlMessage(message) { handleControl(control, context: context) }
        default:
            logger.debug("ignoring RTMP message type \(message.typeID)")
        }
    }

    private func handleControl(_ control: RTMPControlMessage, context: ChannelHandlerContext) {
        switch control {
        case .windowAckSize(let size):
            acks.setWindow(size)
        case .userControl(.pingRequest(let timestamp)):
            send(.userControl(.pingResponse(timestamp: timestamp)), context: context)
            context.flush()
        default:
            break  // chunk size and abort are applied by the decoder; acks need no answer
        }
    }

    /// A publisher's media, aggregates and metadata, read once for the Source. Anyone else's are
    /// dropped undecoded.
    private func handlePublished(_ message: RTMPMessage) throws {
        guard case .publishing(let source) = role else { return }
        events.removeAll(keepingCapacity: true)
        try reader.read(message, into: &events)
        guard !events.isEmpty else { return }
        source.assumeIsolated { [events] source in
            for event in events { source.receive(event) }
        }
    }

    func send(_ message: RTMPMessage, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: message.payload.readableBytes + 32)
        RTMPChunkEncoder.write(message, chunkSize: outChunkSize, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// Sends, then closes: for refusals the client should be able to read.
    func sendAndClose(_ messages: [RTMPMessage], context: ChannelHandlerContext) {
        closing = true
        for m in messages { send(m, context: context) }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
    }

    func fail(_ context: ChannelHandlerContext, _ reason: String) {
        guard !closing else { return }
        closing = true
        logger.warning("closing RTMP connection from \(remote): \(reason)")
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is RTMPError || error is ByteToMessageDecoderError { RelayMetrics.parseError(protocol: "rtmp") }
        logger.debug("RTMP connection error from \(remote): \(error)")
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimeout()
        closing = true
        endRole(reason: "connection closed", dropped: true)
        context.fireChannelInactive()
    }

    /// Stops publishing or playing (connection closed, deleteStream, FCUnpublish).
    func endRole(reason: String, dropped: Bool = false) {
        switch role {
        case .publishing(let source):
            if dropped {
                // Lost without unpublishing: players may wait for it to come back (publisher_grace_ms).
                source.assumeIsolated { $0.publisherLeft(reason: "publisher: \(reason)") }
            } else {
                source.assumeIsolated { $0.close(reason: "publisher: \(reason)") }
            }
        case .playing(let source, let sink):
            sink.markClosed()
            source.detachLater(sink, kind: .rtmp)
            logger.info("RTMP player left \(source.id): \(reason)")
        case .none, .admitting:
            break
        }
        role = .none
    }
}
