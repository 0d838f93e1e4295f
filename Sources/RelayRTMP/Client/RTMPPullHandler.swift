import Logging
import NIOCore
import RelayCore
import RelayFLV

/// The play side of one RTMP connection: handshake, connect → createStream → play, then media
/// messages demuxed for the pull; acknowledges the server's window (nginx-rtmp and our server
/// stop sending without acks) and answers pings.
final class RTMPPullHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase: Equatable { case handshake, connecting, creatingStream, starting, playing, ended }

    static let connectTransaction = 1.0
    static let createStreamTransaction = 2.0
    static let commandChunkStream: UInt32 = 3
    static let streamCommandChunkStream: UInt32 = 8
    static let outChunkSize = 4096
    /// Sent to the server as our window, and what we ask it to use.
    static let window: UInt32 = 2_500_000

    private let target: RTMPURL
    private let timeouts: UpstreamTimeouts
    private var events: (any UpstreamEvents)?
    private let started: EventLoopPromise<Void>
    private let logger: Logger

    private var phase = Phase.handshake
    private var context: ChannelHandlerContext?
    private var handshake = RTMPHandshakeClient()
    /// Commands and data are small; media up to 8 MiB a frame, bounded in what it holds.
    private var decoder = RTMPChunkDecoder(maxMessageSize: 8 << 20, maxCommandSize: 64 << 10, maxChunkSize: 1 << 20)
    private var cumulation = ReadCumulation()
    private var reader = RTMPMediaReader()
    /// What one message made; reused, so a frame allocates no array.
    private var pending: [MediaEvent] = []
    private var control = RTMPClientControl(minimumWindow: 4096)
    private var streamID: UInt32 = 0
    private var failure: String?
    private var timer: Scheduled<Void>?
    /// Media arrived since the receive check last looked.
    private var sawMedia = false

    init(target: RTMPURL, timeouts: UpstreamTimeouts, events: any UpstreamEvents, started: EventLoopPromise<Void>,
         logger: Logger) {
        self.target = target
        self.timeouts = timeouts
        self.events = events
        self.started = started
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let seconds = Double(timeouts.connect.nanoseconds) / 1e9
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeouts.connect) {
            bound.value.fail("no NetStream.Play.Start within \(seconds) s")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(handshake.start()), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .ended, failure == nil else { return }
        let incoming = unwrapInboundIn(data)
        control.received(incoming.readableBytes)
        do {
            try cumulation.parse(incoming) { try process(&$0, context: context) }
        } catch {
            fail("\(error)")
            return
        }
        if let ack = control.acknowledgementDue() {
            send(ack)
            context.flush()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        let wasPlaying = phase == .playing
        let reason = failure ?? (wasPlaying ? "closed by the server" : "closed by the server during \(phase)")
        phase = .ended
        if wasPlaying {
            let events = self.events
            self.events = nil
            events?.upstreamEnded(reason)
        } else {
            events = nil
            started.fail(RTMPPullError(reason))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)")
    }

    /// Ends the connection, remembering why (reported once the channel is inactive).
    private func fail(_ reason: String) {
        guard phase != .ended, failure == nil else { return }
        failure = reason
        context?.close(promise: nil)
    }

    /// The pull stops: deleteStream (a clean end the server logs as such), then close.
    func stop() {
        guard let context, phase != .ended, failure == nil else { return }
        if phase == .playing {
            send(.command(name: "deleteStream", transactionID: 0, commandObject: .null,
                          arguments: [.number(Double(streamID))], chunkStreamID: Self.commandChunkStream))
        }
        failure = "closed"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }

    private func send(_ message: RTMPMessage) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: message.payload.readableBytes + 16)
        RTMPChunkEncoder.write(message, chunkSize: Self.outChunkSize, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: - Reading

    private func process(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) throws {
        if phase == .handshake {
            guard try handshake.advance(&buffer, send: { context.write(wrapOutboundOut($0), promise: nil) }) else { return }
            phase = .connecting
            send(.setChunkSize(Self.outChunkSize))
            send(.playerConnect(target, transactionID: Self.connectTransaction, chunkStreamID: Self.commandChunkStream))
            context.flush()
        }
        while phase != .ended, failure == nil, let message = try decoder.next(from: &buffer) {
            try handle(message, context: context)
        }
    }


    private func handle(_ message: RTMPMessage, context: ChannelHandlerContext) throws {
        switch message.type {
        case .commandAMF0?, .commandAMF3?:
            try handleCommand(RTMPCommand(message: message), context: context)
        case .setChunkSize?, .abort?, .acknowledgement?, .windowAckSize?, .setPeerBandwidth?, .userControl?:
            if let control = try RTMPControlMessage(message) { handleControl(control, context: context) }
        case .audio?, .video?, .aggregate?, .dataAMF0?, .dataAMF3?:
            guard phase == .starting || phase == .playing else { return }
            pending.removeAll(keepingCapacity: true)
            try reader.read(message, into: &pending)
            if message.type != .dataAMF0 && message.type != .dataAMF3 {
                sawMedia = true
                if phase == .starting { play(context: context) }
            }
            guard phase == .playing, let events else { return }
            for event in pending { events.upstream(event) }
        default:
            break
        }
    }

    private func handleControl(_ message: RTMPControlMessage, context: ChannelHandlerContext) {
        if case .userControl(.streamEOF) = message, phase == .playing {
            fail("the server ended the stream (StreamEOF)")
            return
        }
        if let answer = control.answer(message) {
            send(answer)
            context.flush()
        }
    }

    private func handleCommand(_ command: RTMPCommand, context: ChannelHandlerContext) throws {
        let info = command.arguments.first
        let code = info?["code"]?.stringValue ?? ""
        let text = info?["description"]?.stringValue ?? ""
        switch command.name {
        case "_result" where command.transactionID == Self.connectTransaction && phase == .connecting:
            phase = .creatingStream
            send(.windowAckSize(Self.window))
            send(.command(name: "createStream", transactionID: Self.createStreamTransaction, commandObject: .null,
                          arguments: [], chunkStreamID: Self.commandChunkStream))
            context.flush()
        case "_result" where command.transactionID == Self.createStreamTransaction && phase == .creatingStream:
            phase = .starting
            streamID = UInt32(exactly: (info?.numberValue ?? 1).rounded(.towardZero)) ?? 1
            send(.command(name: "play", transactionID: 0, commandObject: .null,
                          arguments: [.string(target.streamName), .number(-1000)],
                          messageStreamID: streamID, chunkStreamID: Self.streamCommandChunkStream))
            send(.userControl(.setBufferLength(streamID: streamID, milliseconds: 1000)))
            context.flush()
        case "_error":
            fail("refused: \(command.name) \(code) \(text)")
        case "onStatus":
            let level = info?["level"]?.stringValue ?? ""
            if level == "error" {
                fail("refused: \(code) \(text)")
            } else if code == "NetStream.Play.Start" && phase == .starting {
                play(context: context)
            } else if phase == .playing && (code == "NetStream.Play.UnpublishNotify" || code == "NetStream.Play.Stop"
                                            || code == "NetStream.Play.Complete") {
                fail("the server ended the stream (\(code))")
            } else {
                logger.debug("RTMP pull onStatus \(code) \(text)")
            }
        case "close":
            fail("the server sent close")
        default:
            break  // onBWDone, |RtmpSampleAccess, …
        }
    }

    /// Play.Start (or the first media): the pull is live; from now on silence is a failure.
    private func play(context: ChannelHandlerContext) {
        phase = .playing
        timer?.cancel()
        started.succeed()
        armReceiveCheck(context: context)
    }

    /// Every `timeouts.receive`: no media since the last look ends the session.
    private func armReceiveCheck(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let seconds = Double(timeouts.receive.nanoseconds) / 1e9
        timer = context.eventLoop.scheduleTask(in: timeouts.receive) {
            let handler = bound.value
            guard handler.phase == .playing, let context = handler.context else { return }
            guard handler.sawMedia else {
                handler.fail("no media for \(seconds) s")
                return
            }
            handler.sawMedia = false
            handler.armReceiveCheck(context: context)
        }
    }
}
