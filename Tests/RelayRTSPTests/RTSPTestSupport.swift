import NIOCore
import RelayRTP
@testable import RelayRTSP

func hexBuffer(_ hex: String) -> ByteBuffer {
    let digits = hex.filter { !$0.isWhitespace }
    var out = ByteBuffer()
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.writeInteger(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

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
