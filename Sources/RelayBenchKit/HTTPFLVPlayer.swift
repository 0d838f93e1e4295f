import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayFLV

/// A minimal HTTP-FLV player on SwiftNIO: parses the response, the chunked framing and every FLV
/// tag, so a broken stream counts as a failure. Used by the tests and by relay-bench.
public final class HTTPFLVPlayer: BenchPlayer {
    public let connection: PlayerConnection

    public static func connect(host: String, port: Int, path: String, group: any EventLoopGroup,
                               keepTimestamps: Bool = false, measureLatency: Bool = false, receiveBufferBytes: Int = 0) async throws -> HTTPFLVPlayer {
        let connection = try await PlayerConnection.open(host: host, port: port, group: group,
                                                         receiveBufferBytes: receiveBufferBytes) { state in
            FLVClientHandler(state: state, keepTimestamps: keepTimestamps, measureLatency: measureLatency)
        }
        var request = ByteBuffer()
        request.writeString("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: relay-bench\r\nAccept: */*\r\n\r\n")
        try await connection.channel.writeAndFlush(request)
        return HTTPFLVPlayer(connection: connection)
    }

    private init(connection: PlayerConnection) {
        self.connection = connection
    }
}

private final class FLVClientHandler: PlayerHandler {
    private enum Phase { case head, chunkSize, chunkData(Int), chunkEnd, done }
    let state: NIOLockedValueBox<PlayerStats>
    private let keepTimestamps: Bool
    private let measureLatency: Bool
    private var phase = Phase.head
    private var pending = ByteBuffer()
    private var tags: FLVTagCounter

    init(state: NIOLockedValueBox<PlayerStats>, keepTimestamps: Bool, measureLatency: Bool) {
        self.state = state
        self.keepTimestamps = keepTimestamps
        self.measureLatency = measureLatency
        self.tags = FLVTagCounter(measureLatency: measureLatency, keepTimestamps: keepTimestamps)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        state.withLockedValue { $0.bytes += incoming.readableBytes }
        pending.writeBuffer(&incoming)
        do {
            try parse()
        } catch {
            fail(context, "\(error)")
        }
        pending.discardReadBytes()
    }

    struct ParseError: Error, CustomStringConvertible { let description: String }

    private func parse() throws {
        while true {
            switch phase {
            case .head:
                guard let end = pending.readableBytesView.firstRange(of: [13, 10, 13, 10]) else { return }
                let headLength = end.upperBound - pending.readableBytesView.startIndex
                let head = pending.readString(length: headLength) ?? ""
                let parts = head.split(separator: " ", maxSplits: 2)
                let status = parts.count > 1 ? Int(parts[1]) : nil
                state.withLockedValue { $0.status = status }
                guard status == 200 else { phase = .done; return }
                guard head.lowercased().contains("transfer-encoding: chunked") else {
                    throw ParseError(description: "response is not chunked")
                }
                phase = .chunkSize
            case .chunkSize:
                guard let end = pending.readableBytesView.firstRange(of: [13, 10]) else {
                    if pending.readableBytes > 32 { throw ParseError(description: "bad chunk size line") }
                    return
                }
                let line = pending.readString(length: end.upperBound - pending.readableBytesView.startIndex) ?? ""
                // (Chunk extensions after ';' are not used by the relay; "\r\n" is one Character.)
                let hex = line.prefix { $0.isHexDigit }
                guard !hex.isEmpty, let size = Int(hex, radix: 16) else {
                    throw ParseError(description: "bad chunk size \(line)")
                }
                phase = size == 0 ? .done : .chunkData(size)
            case .chunkData(let size):
                guard pending.readableBytes >= size else { return }
                guard let data = pending.readSlice(length: size) else { return }
                try tags.consume(data, state: state)
                phase = .chunkEnd
            case .chunkEnd:
                guard pending.readableBytes >= 2 else { return }
                guard pending.readInteger(as: UInt16.self) == 0x0D0A else { throw ParseError(description: "missing CRLF after chunk") }
                phase = .chunkSize
            case .done:
                pending.moveReaderIndex(to: pending.writerIndex)
                return
            }
        }
    }
}
