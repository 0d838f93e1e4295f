import NIOCore
import RelayCore

/// A length-prefixed (AVCC/HVCC) access unit as the Annex B bytes TS carries: an access unit
/// delimiter first (H.264 NAL 9, H.265 NAL 35; the AU's own delimiters are left out), then every
/// NAL unit behind a 4-byte start code. Scanned once to size the PES, then written straight
/// into transport packets.
struct AnnexBAccessUnit {
    let payload: ByteBuffer
    let hevc: Bool
    /// Bytes of the NAL units with their start codes (delimiter excluded).
    private(set) var bytes = 0
    /// The AU has its own SPS (H.265: VPS or SPS): no parameter sets to add before it.
    private(set) var carriesParameterSets = false

    /// nil when a NAL length overruns the payload or no NAL unit is left.
    init?(scanning payload: ByteBuffer, hevc: Bool) {
        self.payload = payload
        self.hevc = hevc
        var it = LengthPrefixedNALIterator(payload)
        var units = 0
        do {
            while let nal = try it.next() {
                guard let type = Self.type(of: nal, hevc: hevc), !Self.isDelimiter(type, hevc: hevc) else { continue }
                if hevc ? (type == HEVC.NALType.vps.rawValue || type == HEVC.NALType.sps.rawValue)
                        : type == H264.NALType.sps.rawValue {
                    carriesParameterSets = true
                }
                bytes += 4 + nal.readableBytes  // ≤ 2× a ByteBuffer's size: cannot overflow
                units += 1
            }
        } catch {
            return nil
        }
        guard units > 0 else { return nil }
    }

    var delimiterBytes: Int { hevc ? 7 : 6 }

    func writeDelimiter(_ p: inout TSPacketizer, into out: inout ByteBuffer) {
        p.write(UInt32(1), into: &out)
        if hevc {
            p.write(UInt16(0x4601), into: &out)  // nal_unit_type 35, layer 0, temporal id 1
            p.write(UInt8(0x50), into: &out)  // pic_type 2 (I, P, B), rbsp stop bit
        } else {
            p.write(UInt16(0x09F0), into: &out)  // nal_unit_type 9; primary_pic_type 7, stop bit
        }
    }

    func writeNALUnits(_ p: inout TSPacketizer, into out: inout ByteBuffer) {
        var it = LengthPrefixedNALIterator(payload)
        while let nal = try? it.next() {  // validated by the scan
            guard let type = Self.type(of: nal, hevc: hevc), !Self.isDelimiter(type, hevc: hevc) else { continue }
            p.write(UInt32(1), into: &out)
            p.write(nal, into: &out)
        }
    }

    /// nal_unit_type, nil for an empty NAL unit.
    private static func type(of nal: ByteBuffer, hevc: Bool) -> UInt8? {
        guard let first = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { return nil }
        return hevc ? HEVC.NALType(header: first).rawValue : H264.NALType(header: first).rawValue
    }

    private static func isDelimiter(_ type: UInt8, hevc: Bool) -> Bool {
        type == (hevc ? HEVC.NALType.accessUnitDelimiter.rawValue : H264.NALType.accessUnitDelimiter.rawValue)
    }
}
