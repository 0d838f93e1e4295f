import FuzzSupport
import NIOCore
import NIOEmbedded
import RelayRTP

/// GB28181 TCP transport: RFC 4571 framing through the same ByteToMessageHandler (and buffer
/// bound) the server installs, every frame parsed as RTP (RFC 3550: CSRCs, extension,
/// padding) and put through the reorder buffer. Odd first byte: the input is instead one UDP
/// datagram per Splitter read.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        var reorder = RTPReorderBuffer<RTPPacket>(window: 8)
        func packet(_ frame: ByteBuffer) {
            guard let p = try? RTPPacket(parsing: frame) else { return }
            invariant(p.payload.readableBytes <= frame.readableBytes, "RTP payload larger than its packet")
            reorder.push(p, sequence: p.sequence) { _ in }
            invariant(reorder.heldCount <= 8, "reorder buffer holds \(reorder.heldCount)")
        }
        if (input.first ?? 0) & 1 == 1 {
            for datagram in Splitter(input) { packet(datagram) }
            reorder.flush { _ in }
            return
        }
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RFC4571FrameDecoder(), maximumBufferSize: 1 << 20))
        feed(channel, input, as: ByteBuffer.self) { frame in
            invariant(frame.readableBytes <= 65535, "RFC 4571 frame of \(frame.readableBytes) bytes")
            packet(frame)
        }
    }
}
