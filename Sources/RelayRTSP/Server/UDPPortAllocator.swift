import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Hands out server port pairs for UDP players and publishers from the configured range: RTP on an even port,
/// RTCP on the next (odd) one. A pair another process holds is skipped when its bind fails.
public final class UDPPortAllocator: Sendable {
    public struct NoFreePorts: Error, CustomStringConvertible {
        public let range: ClosedRange<Int>
        public var description: String { "no free UDP port pair in \(range.lowerBound)-\(range.upperBound)" }
    }

    public let range: ClosedRange<Int>
    private struct State {
        var next: Int
        var inUse: Set<Int> = []
    }
    private let state: NIOLockedValueBox<State>

    public init(min: Int, max: Int) {
        let first = min + (min & 1)
        let last = Swift.max(first + 1, max - ((max - first + 1) & 1))
        range = first...last
        state = NIOLockedValueBox(State(next: first))
    }

    public var pairCount: Int { range.count / 2 }

    /// Reserves the next even port not handed out, round-robin (so a just-freed pair is not
    /// reused while late datagrams of its last player may still arrive).
    public func reserve() -> Int? {
        state.withLockedValue { s in
            for _ in 0..<pairCount {
                let port = s.next
                s.next = port + 2 > range.upperBound ? range.lowerBound : port + 2
                if !s.inUse.contains(port) {
                    s.inUse.insert(port)
                    return port
                }
            }
            return nil
        }
    }

    public func release(_ port: Int) {
        _ = state.withLockedValue { $0.inUse.remove(port) }
    }

    public var inUseCount: Int { state.withLockedValue { $0.inUse.count } }

    /// Binds an RTP/RTCP socket pair on `loop`; `onDatagram` sees every datagram received and
    /// whether it came to the RTCP port (a player's receiver reports and NAT keep-alives keep its
    /// session alive; a publisher's are its media).
    func bindPair(host: String, on loop: any EventLoop,
                  onDatagram: @escaping @Sendable (_ rtcp: Bool, AddressedEnvelope<ByteBuffer>) -> Void) async throws -> UDPSocketPair {
        for _ in 0..<Swift.min(pairCount, 64) {
            guard let port = reserve() else { break }
            guard let rtp = try? await bootstrap(loop, { onDatagram(false, $0) }).bind(host: host, port: port).get() else {
                release(port)
                continue
            }
            guard let rtcp = try? await bootstrap(loop, { onDatagram(true, $0) }).bind(host: host, port: port + 1).get() else {
                try? await rtp.close()
                release(port)
                continue
            }
            return UDPSocketPair(rtp: rtp, rtcp: rtcp, port: port)
        }
        throw NoFreePorts(range: range)
    }

    private func bootstrap(_ loop: any EventLoop,
                           _ onDatagram: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void) -> DatagramBootstrap {
        DatagramBootstrap(group: loop)
            // Room for a GOP burst to a new player; beyond the high mark the player skips ahead.
            .channelOption(.socketOption(.so_sndbuf), value: 1 << 20)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPReceiveHandler(onDatagram: onDatagram))
                }
            }
    }
}

/// A UDP player's server sockets for one track.
struct UDPSocketPair: Sendable {
    let rtp: any Channel
    let rtcp: any Channel
    let port: Int

    func close() {
        rtp.close(promise: nil)
        rtcp.close(promise: nil)
    }
}

/// Hands each datagram to the session that owns the port pair (on the socket's loop).
final class UDPReceiveHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let onDatagram: @Sendable (AddressedEnvelope<ByteBuffer>) -> Void

    init(onDatagram: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void) { self.onDatagram = onDatagram }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onDatagram(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like: the session timeout deals with a vanished client.
    }
}
