import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayFLV
import RelayRTMP

/// A minimal RTMP player on SwiftNIO: handshake, connect, createStream, play, then every message
/// decoded and every video tag body parsed, so a broken stream counts as a failure.
public final class RTMPPlayer: BenchPlayer {
    public let connection: PlayerConnection

    /// `url`: rtmp://host:port/app/stream[?query]
    public static func connect(url: String, group: any EventLoopGroup, keepTimestamps: Bool = false,
                               measureLatency: Bool = false, receiveBufferBytes: Int = 0) async throws -> RTMPPlayer {
        let target = try RTMPURL(parsing: url)
        let connection = try await PlayerConnection.open(host: target.host, port: target.port, group: group,
                                                         receiveBufferBytes: receiveBufferBytes) { state in
            RTMPPlayHandler(target: target, state: state, keepTimestamps: keepTimestamps, measureLatency: measureLatency)
        }
        return RTMPPlayer(connection: connection)
    }

    private init(connection: PlayerConnection) {
        self.connection = connection
    }
}

private final class RTMPPlayHandler: PlayerHandler {

    private let target: RTMPURL
    let state: NIOLockedValueBox<PlayerStats>
    private let keepTimestamps: Bool
    private let measureLatency: Bool
    private var handshake = RTMPHandshakeClient()
    private var handshakeDone = false
    private var decoder = RTMPChunkDecoder()
    private var buffer = ByteBuffer()
    private var bytesIn: UInt64 = 0
    private var lastAck: UInt64 = 0
    private var window: UInt64 = 2_500_000

    init(target: RTMPURL, state: NIOLockedValueBox<PlayerStats>, keepTimestamps: Bool, measureLatency: Bool) {
        self.target = target
        self.state = state
        self.keepTimestamps = keepTimestamps
        self.measureLatency = measureLatency
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(handshake.start()), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        bytesIn &+= UInt64(incoming.readableBytes)
        state.withLockedValue { $0.bytes += incoming.readableBytes }
        buffer.writeBuffer(&incoming)
        do {
            if !handshakeDone {
                switch try handshake.feed(&buffer) {
                case .needMoreData: return
                case .send(let c2):
                    context.write(wrapOutboundOut(c2), promise: nil)
                    handshakeDone = true
                    sendConnect(context)
                case .done:
                    handshakeDone = true
                }
            }
            while let message = try decoder.next(from: &buffer) {
                try handle(message, context: context)
            }
        } catch {
            fail(context, "\(error)")
            return
        }
        buffer.discardReadBytes()
        if bytesIn - lastAck >= window {
            lastAck = bytesIn
            send(.acknowledgement(sequenceNumber: UInt32(truncatingIfNeeded: bytesIn)), context)
            context.flush()
        }
    }

    private func send(_ message: RTMPMessage, _ context: ChannelHandlerContext) {
        var out = ByteBuffer()
        RTMPChunkEncoder.write(message, chunkSize: 128, into: &out)
        context.write(wrapOutboundOut(out), promise: nil)
    }

    private func sendConnect(_ context: ChannelHandlerContext) {
        send(.playerConnect(target), context)
        context.flush()
    }

    private func handle(_ message: RTMPMessage, context: ChannelHandlerContext) throws {
        switch message.type {
        case .commandAMF0?, .commandAMF3?:
            let command = try RTMPCommand(message: message)
            switch command.name {
            case "_result" where command.transactionID == 1:
                send(.windowAckSize(2_500_000), context)
                send(.command(name: "createStream", transactionID: 2, commandObject: .null, arguments: []), context)
                context.flush()
            case "_result" where command.transactionID == 2:
                let streamID = UInt32(command.arguments.first?.numberValue ?? 1)
                send(.command(name: "play", transactionID: 0, commandObject: .null,
                              arguments: [.string(target.streamName), .number(-1000)],
                              messageStreamID: streamID, chunkStreamID: 8), context)
                send(.userControl(.setBufferLength(streamID: streamID, milliseconds: 1000)), context)
                context.flush()
            case "_error":
                fail(context, "RTMP _error: \(command.arguments)")
            case "onStatus":
                let code = command.arguments.first?["code"]?.stringValue ?? ""
                let level = command.arguments.first?["level"]?.stringValue ?? ""
                if code == "NetStream.Play.Start" { state.withLockedValue { $0.status = 200 } }
                if level == "error" {
                    state.withLockedValue { $0.status = code.contains("NotFound") ? 404 : 403 }
                    fail(context, "RTMP \(code)")
                }
            default:
                break
            }
        case .video?:
            try state.recordFLVVideo(message.payload, timestamp: message.timestamp, keepTimestamps: keepTimestamps,
                                     measureLatency: measureLatency)
        case .audio?:
            state.withLockedValue { $0.audioFrames += 1 }
        case .windowAckSize?:
            if case .windowAckSize(let size)? = try RTMPControlMessage(message) { window = UInt64(max(size, 4096)) }
        case .userControl?:
            if case .userControl(.pingRequest(let ts))? = try RTMPControlMessage(message) {
                send(.userControl(.pingResponse(timestamp: ts)), context)
                context.flush()
            }
        default:
            break
        }
    }
}
