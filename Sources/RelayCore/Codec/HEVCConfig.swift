import NIOCore

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1): the H.265 sequence header of
/// Enhanced RTMP / legacy codec-id-12 FLV and the `hvcC` box of MP4.
public struct HEVCDecoderConfigurationRecord: Sendable, Equatable {
    public var profileTierLevel: HEVC.ProfileTierLevel
    public var minSpatialSegmentationIdc: UInt16
    public var parallelismType: UInt8
    public var chromaFormat: UInt8
    public var bitDepthLumaMinus8: UInt8
    public var bitDepthChromaMinus8: UInt8
    public var avgFrameRate: UInt16
    public var constantFrameRate: UInt8
    public var numTemporalLayers: UInt8
    public var temporalIdNested: Bool
    /// Bytes in each NAL length prefix of the frames that use this record: 1, 2 or 4.
    public var nalLengthSize: Int
    /// Parameter-set NAL units (slices of the parsed buffer). Other arrays (SEI) are dropped.
    public var vps: [ByteBuffer]
    public var sps: [ByteBuffer]
    public var pps: [ByteBuffer]

    static let fixedSize = 23

    public init(parsing record: ByteBuffer) throws {
        var b = record
        guard b.readableBytes >= Self.fixedSize else {
            throw CodecError.truncated("HEVCDecoderConfigurationRecord: \(record.readableBytes) bytes")
        }
        func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
            guard let value = b.readInteger(as: T.self) else {
                throw CodecError.truncated("HEVCDecoderConfigurationRecord: \(record.readableBytes) bytes")
            }
            return value
        }
        let version = try read(UInt8.self)
        guard version == 1 else {
            throw CodecError.invalid("HEVCDecoderConfigurationRecord: configurationVersion \(version)")
        }
        let ptlByte = try read(UInt8.self)
        let compat = try read(UInt32.self)
        let constraintHigh = try read(UInt32.self)
        let constraintLow = try read(UInt16.self)
        let level = try read(UInt8.self)
        profileTierLevel = HEVC.ProfileTierLevel(
            profileSpace: Int(ptlByte >> 6), tierFlag: ptlByte & 0x20 != 0, profileIdc: Int(ptlByte & 0x1F),
            compatibilityFlags: compat,
            constraintIndicatorFlags: UInt64(constraintHigh) << 16 | UInt64(constraintLow),
            levelIdc: Int(level))
        minSpatialSegmentationIdc = try read(UInt16.self) & 0x0FFF
        parallelismType = try read(UInt8.self) & 0x03
        chromaFormat = try read(UInt8.self) & 0x03
        bitDepthLumaMinus8 = try read(UInt8.self) & 0x07
        bitDepthChromaMinus8 = try read(UInt8.self) & 0x07
        avgFrameRate = try read(UInt16.self)
        let flags = try read(UInt8.self)
        constantFrameRate = flags >> 6
        numTemporalLayers = (flags >> 3) & 0x07
        temporalIdNested = flags & 0x04 != 0
        nalLengthSize = Int(flags & 0x03) + 1
        guard nalLengthSize != 3 else {
            throw CodecError.invalid("HEVCDecoderConfigurationRecord: lengthSizeMinusOne 2")
        }
        let arrays = Int(try read(UInt8.self))
        vps = []
        sps = []
        pps = []
        for i in 0..<arrays {
            guard let typeByte = b.readInteger(as: UInt8.self), let count = b.readInteger(as: UInt16.self) else {
                throw CodecError.truncated("HEVCDecoderConfigurationRecord: array \(i + 1) of \(arrays)")
            }
            let type = HEVC.NALType(rawValue: typeByte & 0x3F)
            let nals = try AVCDecoderConfigurationRecord.readNALs(&b, count: Int(count), what: "\(type)")
            switch type {
            case .vps: vps += nals
            case .sps: sps += nals
            case .pps: pps += nals
            default: break
            }
        }
    }

    /// Builds a record from parameter sets. The general_* fields, chroma format, bit depths and
    /// temporal layering are taken from the first SPS; the VPS is checked to parse.
    public init(vps: [ByteBuffer], sps: [ByteBuffer], pps: [ByteBuffer], nalLengthSize: Int = 4) throws {
        guard let firstVPS = vps.first, let firstSPS = sps.first, !pps.isEmpty else {
            throw CodecError.invalid("HEVCDecoderConfigurationRecord: needs VPS, SPS and PPS (got \(vps.count)/\(sps.count)/\(pps.count))")
        }
        guard [1, 2, 4].contains(nalLengthSize) else {
            throw CodecError.invalid("HEVCDecoderConfigurationRecord: NAL length size \(nalLengthSize)")
        }
        for nal in vps + sps + pps where nal.readableBytes > 0xFFFF {
            throw CodecError.invalid("HEVCDecoderConfigurationRecord: parameter set of \(nal.readableBytes) bytes")
        }
        _ = try HEVC.VPS(nal: firstVPS)
        let parsed = try HEVC.SPS(nal: firstSPS)
        profileTierLevel = parsed.profileTierLevel
        minSpatialSegmentationIdc = 0
        parallelismType = 0
        chromaFormat = UInt8(parsed.chromaFormatIdc)
        bitDepthLumaMinus8 = UInt8(parsed.bitDepthLuma - 8)
        bitDepthChromaMinus8 = UInt8(parsed.bitDepthChroma - 8)
        avgFrameRate = 0
        constantFrameRate = 0
        numTemporalLayers = UInt8(parsed.maxSubLayers)
        temporalIdNested = parsed.temporalIdNesting
        self.nalLengthSize = nalLengthSize
        self.vps = vps
        self.sps = sps
        self.pps = pps
    }

    public func write(into out: inout ByteBuffer) {
        let ptl = profileTierLevel
        out.writeInteger(UInt8(1))
        out.writeInteger(UInt8((ptl.profileSpace & 0x03) << 6 | (ptl.tierFlag ? 0x20 : 0) | ptl.profileIdc & 0x1F))
        out.writeInteger(ptl.compatibilityFlags)
        out.writeInteger(UInt32(truncatingIfNeeded: ptl.constraintIndicatorFlags >> 16))
        out.writeInteger(UInt16(truncatingIfNeeded: ptl.constraintIndicatorFlags))
        out.writeInteger(UInt8(truncatingIfNeeded: ptl.levelIdc))
        out.writeInteger(UInt16(0xF000 | minSpatialSegmentationIdc & 0x0FFF))
        out.writeInteger(UInt8(0xFC | parallelismType & 0x03))
        out.writeInteger(UInt8(0xFC | chromaFormat & 0x03))
        out.writeInteger(UInt8(0xF8 | bitDepthLumaMinus8 & 0x07))
        out.writeInteger(UInt8(0xF8 | bitDepthChromaMinus8 & 0x07))
        out.writeInteger(avgFrameRate)
        out.writeInteger(UInt8((constantFrameRate & 0x03) << 6 | (numTemporalLayers & 0x07) << 3
                               | (temporalIdNested ? 0x04 : 0) | UInt8(nalLengthSize - 1) & 0x03))
        let arrays = [(HEVC.NALType.vps, vps), (.sps, sps), (.pps, pps)].filter { !$0.1.isEmpty }
        out.writeInteger(UInt8(arrays.count))
        for (type, nals) in arrays {
            out.writeInteger(UInt8(0x80 | type.rawValue))  // array_completeness = 1
            out.writeInteger(UInt16(min(nals.count, 0xFFFF)))
            for nal in nals.prefix(0xFFFF) { AVCDecoderConfigurationRecord.writeNAL(nal, into: &out) }
        }
    }

    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var out = allocator.buffer(capacity: 32 + (vps + sps + pps).reduce(0) { $0 + 2 + $1.readableBytes })
        write(into: &out)
        return out
    }
}

extension AVStream {
    /// An H.265 track from an HEVCDecoderConfigurationRecord (kept as `extradata`); size,
    /// profile and level come from its first SPS.
    public static func h265(index: Int, timebase: Int, hvcRecord: ByteBuffer) throws -> AVStream {
        let record = try HEVCDecoderConfigurationRecord(parsing: hvcRecord)
        return try h265(index: index, timebase: timebase, record: record, extradata: hvcRecord)
    }

    /// An H.265 track from raw VPS/SPS/PPS NAL units; builds the record.
    public static func h265(index: Int, timebase: Int, vps: [ByteBuffer], sps: [ByteBuffer],
                            pps: [ByteBuffer]) throws -> AVStream {
        let record = try HEVCDecoderConfigurationRecord(vps: vps, sps: sps, pps: pps)
        return try h265(index: index, timebase: timebase, record: record, extradata: record.encoded())
    }

    static func h265(index: Int, timebase: Int, record: HEVCDecoderConfigurationRecord,
                     extradata: ByteBuffer) throws -> AVStream {
        guard let first = record.sps.first else {
            throw CodecError.invalid("HEVCDecoderConfigurationRecord: no SPS")
        }
        let sps = try HEVC.SPS(nal: first)
        let video = VideoParameters(width: sps.width, height: sps.height,
                                    profile: sps.profileTierLevel.profileIdc, level: sps.profileTierLevel.levelIdc,
                                    vps: record.vps, sps: record.sps, pps: record.pps)
        return AVStream(index: index, codec: .h265, timebase: timebase, extradata: extradata, video: video)
    }
}
