import FuzzSupport
import NIOCore
import RelayCore

/// Codec parameter parsing: the first byte picks the parser, the rest is its input. These run
/// on every sequence header (RTMP/FLV), every parameter set found in GB28181 PS and JT/T 1078
/// Annex-B, and every AAC header.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        guard let selector = input.first else { return }
        let body = ByteBuffer(bytes: input.dropFirst())
        switch selector % 10 {
        case 0:
            if let sps = try? H264.SPS(nal: body) {
                invariant(sps.width >= 0 && sps.height >= 0, "negative H.264 size")
            }
        case 1:
            if let sps = try? HEVC.SPS(nal: body) {
                invariant(sps.width >= 0 && sps.height >= 0, "negative H.265 size")
            }
        case 2:
            _ = try? HEVC.VPS(nal: body)
        case 3:
            if let record = try? AVCDecoderConfigurationRecord(parsing: body) {
                // What the FLV demuxer does with a sequence header.
                _ = try? AVStream.h264(index: 0, timebase: 1000, avcRecord: body)
                _ = try? AVCDecoderConfigurationRecord(sps: record.sps, pps: record.pps)
            }
        case 4:
            if let record = try? HEVCDecoderConfigurationRecord(parsing: body) {
                _ = try? AVStream.h265(index: 0, timebase: 1000, hvcRecord: body)
                _ = try? HEVCDecoderConfigurationRecord(vps: record.vps, sps: record.sps, pps: record.pps)
            }
        case 5:
            if let asc = try? AAC.AudioSpecificConfig(parsing: body) {
                _ = try? AAC.ADTSHeader(config: asc, payloadLength: 100)
                _ = try? AVStream.aac(index: 1, timebase: 1000, asc: body)
            }
        case 6:
            _ = try? AAC.ADTSHeader(parsing: body)
        case 7:
            // Annex-B (GB28181, JT/T 1078, relay-camera): split, convert, and parse what looks like
            // parameter sets, as the demuxers do.
            let nals = AnnexB.split(body)
            var total = 0
            for nal in nals {
                total += nal.readableBytes
                switch H264.nalType(of: nal) {
                case .sps?: _ = try? H264.SPS(nal: nal)
                default: break
                }
                if HEVC.nalType(of: nal) == .sps { _ = try? HEVC.SPS(nal: nal) }
                if HEVC.nalType(of: nal) == .vps { _ = try? HEVC.VPS(nal: nal) }
            }
            invariant(total <= body.readableBytes, "NAL units larger than their input")
            _ = AnnexB.toLengthPrefixed(body)
        case 8:
            let lengthSize = [1, 2, 4][Int(input.count % 3)]
            _ = try? AnnexB.nalUnits(lengthPrefixed: body, lengthSize: lengthSize)
            _ = try? AnnexB.normalizedLengthPrefix(body, lengthSize: lengthSize)
            _ = H264.containsIDR(lengthPrefixed: body)
            _ = HEVC.containsIRAP(lengthPrefixed: body)
        default:
            var reader = BitReader(nal: body)
            while (try? reader.ue()) != nil {}
        }
    }
}
