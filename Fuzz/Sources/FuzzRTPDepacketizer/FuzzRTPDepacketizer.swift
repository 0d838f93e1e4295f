import FuzzSupport
import NIOCore
import RelayCore
import RelayRTP

/// RTP payloads → access units: H.264, H.265, AAC-hbr and G.711 depacketizers (RFC 6184, 7798,
/// 3640, 3551), optionally behind a reorder buffer. First byte: bits 0-1 the codec, bit 2 a
/// reorder buffer in front, bit 3 records parsed as whole RTP packets (else each record is a
/// payload after a 2-byte prefix: marker/timestamp step, sequence step). The rest is records of
/// a 16-bit length and that many bytes. Every delivered unit must respect the cap and, for
/// video, be well-formed length-prefixed NAL units.
@main
enum FuzzerMain: FuzzTarget {
    static let cap = 64 << 10

    static func fuzz(_ input: [UInt8]) {
        let mode = input.first ?? 0
        var depacketizer: any RTPDepacketizer
        switch mode & 3 {
        case 0: depacketizer = H26xDepacketizer(codec: .h264, maxAccessUnitBytes: cap)
        case 1: depacketizer = H26xDepacketizer(codec: .h265, maxAccessUnitBytes: cap)
        case 2: depacketizer = AACDepacketizer(maxAccessUnitBytes: cap)
        default: depacketizer = G711Depacketizer()
        }
        let video = mode & 3 < 2
        var reorder: RTPReorderBuffer<RTPPacket>? = mode & 4 != 0 ? RTPReorderBuffer(window: 8) : nil
        var packets: UInt64 = 0
        func check(_ unit: RTPAccessUnit) {
            invariant(unit.payload.readableBytes > 0, "empty access unit")
            invariant(unit.payload.readableBytes <= cap || mode & 3 == 3, "unit of \(unit.payload.readableBytes) bytes over the cap")
            if video {
                let nals = try? AnnexB.nalUnits(lengthPrefixed: unit.payload)
                invariant(nals != nil, "video unit is not length-prefixed NAL units")
                invariant(nals?.allSatisfy { $0.readableBytes > 0 } ?? false, "empty NAL unit delivered")
            }
        }
        func deliver(_ p: RTPPacket) {
            packets &+= 1
            depacketizer.push(p, emit: check)
        }
        func push(_ p: RTPPacket) {
            if reorder != nil {
                reorder?.push(p, sequence: p.sequence) { if case .packet(let p) = $0 { deliver(p) } }
            } else {
                deliver(p)
            }
        }
        var sequence: UInt16 = 0
        var timestamp: UInt32 = 0
        var rest = ByteBuffer(bytes: input.dropFirst())
        while let length = rest.readInteger(as: UInt16.self) {
            guard let read = rest.readSlice(length: min(Int(length), rest.readableBytes)) else { break }
            if mode & 8 != 0 {
                if let p = try? RTPPacket(parsing: read) { push(p) }
                continue
            }
            var payload = read
            guard let flags = payload.readInteger(as: UInt8.self), let step = payload.readInteger(as: UInt8.self) else { continue }
            sequence &+= UInt16(step >> 4 == 0 ? 1 : step >> 4)  // mostly in order, sometimes a gap
            timestamp &+= UInt32(flags >> 1) &* 0x0101_0101 >> (step & 0xF)
            push(RTPPacket(marker: flags & 1 != 0, payloadType: 96, sequence: sequence, timestamp: timestamp, ssrc: 1,
                           payload: payload))
        }
        reorder?.flush { if case .packet(let p) = $0 { deliver(p) } }
        depacketizer.flush(emit: check)
        if mode & 3 == 3 { invariant(depacketizer.stats.accessUnits <= packets, "more G.711 units than packets") }
    }
}
