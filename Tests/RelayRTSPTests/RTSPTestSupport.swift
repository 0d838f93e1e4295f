import NIOCore
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

/// Receiver side of RFC 6184 / RFC 7798 written independently of the packetizer: single NAL
/// units, STAP-A / AP and FU-A / FU, reassembled into NAL units per access unit (marker bit).
struct NALDepacketizer {
    enum Codec { case h264, h265 }
    let codec: Codec
    var fragment: [UInt8]?
    var current: [[UInt8]] = []
    var accessUnits: [[[UInt8]]] = []
    var errors: [String] = []

    mutating func feed(_ packet: ParsedRTP) {
        let p = packet.payload
        guard !p.isEmpty else { errors.append("empty payload"); return }
        switch codec {
        case .h264:
            let type = p[0] & 0x1F
            if type == 28 {
                guard p.count > 2 else { errors.append("short FU-A"); return }
                let fu = p[1]
                if fu & 0x80 != 0 {
                    if fragment != nil { errors.append("FU start inside a fragment") }
                    fragment = [(p[0] & 0xE0) | (fu & 0x1F)]
                }
                guard fragment != nil else { errors.append("FU continuation without start"); return }
                fragment! += p[2...]
                if fu & 0x40 != 0 {
                    current.append(fragment!)
                    fragment = nil
                }
            } else if type == 24 {
                var i = 1
                while i + 2 <= p.count {
                    let n = Int(p[i]) << 8 | Int(p[i + 1])
                    current.append(Array(p[(i + 2)..<(i + 2 + n)]))
                    i += 2 + n
                }
            } else {
                current.append(p)
            }
        case .h265:
            let type = (p[0] >> 1) & 0x3F
            if type == 49 {
                guard p.count > 3 else { errors.append("short FU"); return }
                let fu = p[2]
                if fu & 0x80 != 0 {
                    if fragment != nil { errors.append("FU start inside a fragment") }
                    fragment = [(p[0] & 0x81) | ((fu & 0x3F) << 1), p[1]]
                }
                guard fragment != nil else { errors.append("FU continuation without start"); return }
                fragment! += p[3...]
                if fu & 0x40 != 0 {
                    current.append(fragment!)
                    fragment = nil
                }
            } else {
                current.append(p)
            }
        }
        if packet.header.marker {
            if fragment != nil { errors.append("marker inside a fragment") }
            accessUnits.append(current)
            current = []
        }
    }
}
