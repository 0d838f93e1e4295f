import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOWebSocket
import RelayCore
import RelayFLV

/// A WebSocket player (NIO's client upgrade and frame codec): `ws://HOST/APP/STREAM.flv` (FLV,
/// what flv.js and mpegts.js read; every tag parsed, frames timed like the HTTP-FLV player's) or
/// `.mp4` (fMP4; samples counted). `status` is 101 once the upgrade succeeded.
public final class WebSocketPlayer: BenchPlayer {
    public enum Payload: Sendable { case flv, fmp4 }

    public let connection: PlayerConnection

    public static func connect(host: String, port: Int, path: String, payload: Payload, group: any EventLoopGroup,
                               measureLatency: Bool = false, receiveBufferBytes: Int = 0) async throws -> WebSocketPlayer {
        let connection = try await PlayerConnection.open(host: host, port: port, group: group,
                                                         receiveBufferBytes: receiveBufferBytes) { state in
            PlayerPipelineFront(state: state) { pipeline, front in
                // A segment is one frame (a key frame's GOP start can be large).
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 26) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            WebSocketMediaHandler(state: state, payload: payload, measureLatency: measureLatency))
                    }
                }
                try pipeline.addHTTPClientHandlers(position: .after(front), leftOverBytesStrategy: .forwardBytes,
                                                   withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in
                                                       state.withLockedValue { $0.status = 101 }
                                                   }))
            }
        }
        try await connection.sendGET(path, host: host, port: port)
        return WebSocketPlayer(connection: connection)
    }

    private init(connection: PlayerConnection) {
        self.connection = connection
    }
}

/// Binary messages (and their continuations) to the payload's parser; pings answered.
private final class WebSocketMediaHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let state: NIOLockedValueBox<PlayerStats>
    private let payload: WebSocketPlayer.Payload
    private var flv: FLVTagCounter
    private var fmp4 = FMP4SampleCounter()

    init(state: NIOLockedValueBox<PlayerStats>, payload: WebSocketPlayer.Payload, measureLatency: Bool) {
        self.state = state
        self.payload = payload
        self.flv = FLVTagCounter(measureLatency: measureLatency)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            do {
                switch payload {
                case .flv: try flv.consume(frame.unmaskedData, state: state)
                case .fmp4: try fmp4.consume(frame.unmaskedData) { state.recordSample($0) }
                }
            } catch {
                state.fail(context, "\(error)")
            }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.fail(context, "\(error)")
    }
}

/// FLV tags of a byte stream that arrives in pieces: video frames timed (and glass-to-glass
/// latency read when asked), audio frames counted.
struct FLVTagCounter {
    private var reader = FLVTagReader()
    private var buffer = ByteBuffer()
    let measureLatency: Bool
    let keepTimestamps: Bool

    init(measureLatency: Bool, keepTimestamps: Bool = false) {
        self.measureLatency = measureLatency
        self.keepTimestamps = keepTimestamps
    }

    mutating func consume(_ data: ByteBuffer, state: NIOLockedValueBox<PlayerStats>) throws {
        buffer.writeImmutableBuffer(data)
        while let tag = try reader.next(from: &buffer) {
            switch tag.type {
            case FLVTagType.video:
                try state.recordFLVVideo(tag.body, timestamp: tag.timestamp, keepTimestamps: keepTimestamps, measureLatency: measureLatency)
            case FLVTagType.audio:
                state.withLockedValue { $0.audioFrames += 1 }
            default:
                break
            }
        }
        buffer.discardReadBytes()
    }
}

extension NIOLockedValueBox where Value == PlayerStats {
    /// One fMP4 or MPEG-TS sample: video frames timed, audio frames counted.
    func recordSample(_ sample: FMP4SampleCounter.Sample) {
        let now = NIODeadline.now()
        withLockedValue {
            if sample.video {
                $0.recordVideoFrame(isKey: sample.key, at: now, timestamp: nil)
            } else {
                $0.audioFrames += 1
            }
        }
    }
}
