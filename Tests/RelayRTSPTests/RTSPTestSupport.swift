import NIOCore
import RelayRTP
@testable import RelayRTSP
import RelayTestSupport

/// Length-prefixed access unit from NAL units.
func accessUnit(_ nals: [[UInt8]]) -> ByteBuffer {
    var b = ByteBuffer()
    for n in nals {
        b.writeInteger(UInt32(n.count))
        b.writeBytes(n)
    }
    return b
}

struct ParsedRTP: Equatable {
    var channel: UInt8
    var header: RTPHeader
    var payload: [UInt8]
}

func parseFrames(_ buffer: ByteBuffer) -> [ParsedRTP] {
    var out: [ParsedRTP] = []
    for (channel, packet) in InterleavedFrames(buffer) {
        guard let header = RTPHeader(packet) else { continue }
        let payload = Array(packet.readableBytesView.dropFirst(header.payloadOffset))
        out.append(ParsedRTP(channel: channel, header: header, payload: payload))
    }
    return out
}
