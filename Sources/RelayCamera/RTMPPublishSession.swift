import Logging
import NIOCore
import RelayFLV
import RelayRTMP

/// What a publish session reports to its publisher (always on the channel's event loop).
protocol RTMPPublishSessionDelegate: AnyObject {
    /// `publish` was accepted: media may flow on `streamID`.
    func sessionLive(_ session: RTMPPublishSession, streamID: UInt32)
    /// The connection is gone; `reason` says why (refusal text, error, or "closed by server").
    func sessionEnded(_ session: RTMPPublishSession, reason: String)
}

/// One RTMP connection of the publisher: handshake, then connect → releaseStream → FCPublish →
/// createStream → publish, answering pings and acknowledging the server's window meanwhile.
/// Media is written by the publisher through `write`/`flush` once `sessionLive` was reported.
final class RTMPPublishSession: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase: Equatable { case handshake, connecting, creatingStream, publishing, live, ended }

    let id: Int
    let url: RTMPPublishURL
    let chunkSize: Int
    let enhancedHEVC: Bool
    let timeout: TimeAmount
    private weak var delegate: (any RTMPPublishSessionDelegate)?
    private var logger: Logger

    private(set) var phase = Phase.handshake
    private(set) var streamID: UInt32 = 0
    private var context: ChannelHandlerContext?
    private var handshake = RTMPHandshakeClient()
    private var decoder = RTMPChunkDecoder()
    private var cumulation = ReadCumulation()
    private var failure: String?
    private var timer: Scheduled<Void>?

    // Acknowledgements (spec 5.4.3): the server says how many bytes it may send before it wants one.
    private var control = RTMPClientControl(minimumWindow: 1)
    private(set) var bytesOut: UInt64 = 0
    private(set) var acksSent = 0

    static let connectTransaction = 1.0
    static let createStreamTransaction = 4.0
    static let publishTransaction = 5.0
    static let commandChunkStream: UInt32 = 3
    static let streamCommandChunkStream: UInt32 = 8

    init(id: Int, url: RTMPPublishURL, chunkSize: Int, enhancedHEVC: Bool, timeout: TimeAmount,
         delegate: any RTMPPublishSessionDelegate, logger: Logger) {
        self.id = id
        self.url = url
        self.chunkSize = chunkSize
        self.enhancedHEVC = enhancedHEVC
        self.timeout = timeout
        self.delegate = delegate
        self.logger = logger
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let seconds = Double(timeout.nanoseconds) / 1e9
        timer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.fail("no NetStream.Publish.Start within \(seconds) s")
        }
        var c0c1 = handshake.start()
        count(&c0c1)
        context.writeAndFlush(wrapOutboundOut(c0c1), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .ended else { return }
        let incoming = unwrapInboundIn(data)
        control.received(incoming.readableBytes)
        do {
            try cumulation.parse(incoming) { try process(&$0, context: context) }
        } catch {
            fail("\(error)")
            return
        }
        if let ack = control.acknowledgementDue() {
            acksSent += 1
            send(ack)
            context.flush()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        let reason = failure ?? (phase == .live ? "closed by the server" : "closed by the server during \(phase)")
        phase = .ended
        delegate?.sessionEnded(self, reason: reason)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)")
    }

    /// Ends the connection, remembering why (reported once the channel is inactive).
    func fail(_ reason: String) {
        guard phase != .ended, failure == nil else { return }
        failure = reason
        context?.close(promise: nil)
    }

    // MARK: - Writing

    /// Writes one piece of an outgoing message (see `RTMPChunkEncoder`); call `flush` after.
    func write(_ piece: ByteBuffer) {
        bytesOut &+= UInt64(piece.readableBytes)
        context?.write(wrapOutboundOut(piece), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func send(_ message: RTMPMessage) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: message.payload.readableBytes + 16)
        RTMPChunkEncoder.write(message, chunkSize: chunkSize, into: &buffer)
        count(&buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func count(_ buffer: inout ByteBuffer) {
        bytesOut &+= UInt64(buffer.readableBytes)
    }

    /// FCUnpublish + deleteStream, then close: a clean end the server can log as such.
    func unpublishAndClose() -> EventLoopFuture<Void>? {
        guard let context, phase != .ended else { return nil }
        if phase == .live {
            send(.command(name: "FCUnpublish", transactionID: 6, commandObject: .null,
                          arguments: [.string(url.streamName)], chunkStreamID: Self.commandChunkStream))
            send(.command(name: "deleteStream", transactionID: 7, commandObject: .null,
                          arguments: [.number(Double(streamID))], chunkStreamID: Self.commandChunkStream))
        }
        failure = failure ?? "stopped"
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
        context.channel.closeFuture.cascade(to: promise)
        return promise.futureResult
    }

    // MARK: - Reading

    private func process(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) throws {
        if phase == .handshake {
            let done = try handshake.advance(&buffer) { c2 in
                var c2 = c2
                count(&c2)
                context.write(wrapOutboundOut(c2), promise: nil)
            }
            guard done else { return }
            phase = .connecting
            send(.setChunkSize(chunkSize))
            send(connectCommand())
            context.flush()
        }
        while phase != .ended, let message = try decoder.next(from: &buffer) {
            try handle(message, context: context)
        }
    }

    private func connectCommand() -> RTMPMessage {
        var object: [AMF0Property] = [
            AMF0Property("app", .string(url.app)),
            AMF0Property("type", .string("nonprivate")),
            AMF0Property("flashVer", .string("FMLE/3.0 (compatible; relay-camera)")),
            AMF0Property("tcUrl", .string(url.tcURL)),
        ]
        if enhancedHEVC {
            // Enhanced RTMP: the client lists the FourCCs it will send.
            object.append(AMF0Property("fourCcList", .strictArray([.string("hvc1")])))
        }
        return .command(name: "connect", transactionID: Self.connectTransaction, commandObject: .object(object),
                        arguments: [], chunkStreamID: Self.commandChunkStream)
    }

    private func handle(_ message: RTMPMessage, context: ChannelHandlerContext) throws {
        switch message.type {
        case .commandAMF0?, .commandAMF3?:
            try handleCommand(RTMPCommand(message: message), context: context)
        case .setChunkSize?, .abort?, .acknowledgement?, .windowAckSize?, .setPeerBandwidth?, .userControl?:
            guard let message = try RTMPControlMessage(message), let answer = control.answer(message) else { return }
            send(answer)
            context.flush()
        default:
            break  // data messages, media: nothing a publisher needs
        }
    }

    private static func refusal(_ parts: String...) -> String {
        "refused: " + parts.filter { !$0.isEmpty }.joined(separator: " ")
    }

    private func handleCommand(_ command: RTMPCommand, context: ChannelHandlerContext) throws {
        let info = command.arguments.first
        let code = info?["code"]?.stringValue ?? ""
        let text = info?["description"]?.stringValue ?? ""
        switch command.name {
        case "_result":
            if command.transactionID == Self.connectTransaction && phase == .connecting {
                phase = .creatingStream
                let name = AMF0Value.string(url.streamName)
                send(.command(name: "releaseStream", transactionID: 2, commandObject: .null, arguments: [name],
                              chunkStreamID: Self.commandChunkStream))
                send(.command(name: "FCPublish", transactionID: 3, commandObject: .null, arguments: [name],
                              chunkStreamID: Self.commandChunkStream))
                send(.command(name: "createStream", transactionID: Self.createStreamTransaction, commandObject: .null,
                              arguments: [], chunkStreamID: Self.commandChunkStream))
                context.flush()
            } else if command.transactionID == Self.createStreamTransaction && phase == .creatingStream {
                phase = .publishing
                streamID = UInt32(max(0, min(info?.numberValue ?? 1, Double(UInt32.max))))
                send(.command(name: "publish", transactionID: Self.publishTransaction, commandObject: .null,
                              arguments: [.string(url.streamName), .string("live")],
                              messageStreamID: streamID, chunkStreamID: Self.streamCommandChunkStream))
                context.flush()
            }
        case "_error":
            // releaseStream/FCPublish errors are harmless (some servers do not know them).
            if command.transactionID == Self.connectTransaction || command.transactionID == Self.createStreamTransaction
                || command.transactionID == Self.publishTransaction {
                fail(Self.refusal(command.name, code, text))
            }
        case "onStatus":
            let level = info?["level"]?.stringValue ?? ""
            if code == "NetStream.Publish.Start" && phase == .publishing {
                phase = .live
                timer?.cancel()
                timer = nil
                delegate?.sessionLive(self, streamID: streamID)
            } else if level == "error" {
                fail(Self.refusal(code, text))
            } else {
                logger.debug("RTMP onStatus \(code) \(text)")
            }
        case "close":
            fail("server sent close")
        default:
            break  // onBWDone, onFCPublish, …
        }
    }
}
