import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// An HTTP fMP4 player (`http://HOST/APP/STREAM.mp4`, chunked): NIO's HTTP client codec, every
/// box of the stream walked and its samples counted.
public final class FMP4Player: BenchPlayer {
    public let connection: PlayerConnection

    public static func connect(host: String, port: Int, path: String, group: any EventLoopGroup,
                               receiveBufferBytes: Int = 0) async throws -> FMP4Player {
        let connection = try await PlayerConnection.open(host: host, port: port, group: group,
                                                         receiveBufferBytes: receiveBufferBytes) { state in
            PlayerPipelineFront(state: state) { pipeline, front in
                try pipeline.addHTTPClientHandlers(position: .after(front))
                try pipeline.addHandler(FMP4ResponseHandler(state: state))
            }
        }
        try await connection.sendGET(path, host: host, port: port)
        return FMP4Player(connection: connection)
    }

    private init(connection: PlayerConnection) {
        self.connection = connection
    }
}

private final class FMP4ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let state: NIOLockedValueBox<PlayerStats>
    private var counter = FMP4SampleCounter()

    init(state: NIOLockedValueBox<PlayerStats>) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            state.withLockedValue { $0.status = Int(head.status.code) }
            if head.status != .ok { state.fail(context, "status \(head.status.code)") }
        case .body(let body):
            do {
                try counter.consume(body) { state.recordSample($0) }
            } catch {
                state.fail(context, "\(error)")
            }
        case .end:
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.fail(context, "\(error)")
    }
}
