import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore

/// What an upper platform receives from a cascade sender: RTP packets by UDP datagram, or RFC
/// 4571 frames over a TCP connection (one the test accepts, or one it opens).
struct CascadePeer: Sendable {
    let channel: any Channel
    let record: Record

    final class Record: Sendable {
        let state = NIOLockedValueBox((datagrams: [ByteBuffer](), stream: ByteBuffer(), closed: false, connected: false))
    }

    /// A UDP socket on 127.0.0.1 (a large receive buffer: the cached GOP arrives paced but fast).
    static func udp() async throws -> CascadePeer {
        let record = Record()
        let ch = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(DatagramRecorder(record)) } }
            .bind(host: "127.0.0.1", port: 0).get()
        return CascadePeer(channel: ch, record: record)
    }

    /// A TCP listener on 127.0.0.1 recording what its connections send (tcp-active senders dial it).
    static func listener() async throws -> CascadePeer {
        let record = Record()
        let ch = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Recorder(record)) } }
            .bind(host: "127.0.0.1", port: 0).get()
        return CascadePeer(channel: ch, record: record)
    }

    /// A TCP connection to a tcp-passive sender's port, from `from` (a loopback address).
    static func connect(port: Int, from: String = "127.0.0.1") async throws -> CascadePeer {
        let record = Record()
        let ch = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: from, port: 0))
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Recorder(record)) } }
            .connect(host: "127.0.0.1", port: port).get()
        return CascadePeer(channel: ch, record: record)
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    var dest: String { "127.0.0.1:\(port)" }
    var isClosed: Bool { record.state.withLockedValue { $0.closed } }
    var isConnected: Bool { record.state.withLockedValue { $0.connected } }

    /// Every RTP packet so far: the datagrams, or the whole RFC 4571 frames of the TCP stream.
    var packets: [ByteBuffer] {
        record.state.withLockedValue { s in
            if !s.datagrams.isEmpty { return s.datagrams }
            var rest = s.stream
            var out: [ByteBuffer] = []
            while let length = rest.getInteger(at: rest.readerIndex, as: UInt16.self),
                  let frame = rest.getSlice(at: rest.readerIndex + 2, length: Int(length)) {
                rest.moveReaderIndex(forwardBy: 2 + Int(length))
                out.append(frame)
            }
            return out
        }
    }

    /// Bytes of the TCP stream after its last whole RFC 4571 frame (0 when the framing is whole).
    var unframedTail: Int {
        record.state.withLockedValue { s in
            var rest = s.stream
            while let length = rest.getInteger(at: rest.readerIndex, as: UInt16.self), rest.readableBytes >= 2 + Int(length) {
                rest.moveReaderIndex(forwardBy: 2 + Int(length))
            }
            return rest.readableBytes
        }
    }

    func wait(seconds: Double, until condition: (CascadePeer) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(self) { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return condition(self)
    }

    func close() async { try? await channel.close() }

    private final class DatagramRecorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let record: Record
        init(_ record: Record) { self.record = record }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            record.state.withLockedValue { $0.datagrams.append(envelope.data) }
        }
    }

    private final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let record: Record
        init(_ record: Record) { self.record = record }

        func channelActive(context: ChannelHandlerContext) {
            record.state.withLockedValue { $0.connected = true }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            record.state.withLockedValue { _ = $0.stream.writeBuffer(&bytes) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            record.state.withLockedValue { $0.closed = true }
            context.fireChannelInactive()
        }
    }
}
