import NIOCore

/// H.265 / HEVC bitstream helpers (ITU-T H.265).
public enum HEVC {
    /// `nal_unit_type` (6 bits of the 2-byte NAL header). A struct so reserved types round-trip.
    public struct NALType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue & 0x3F }
        /// From the first byte of a NAL unit.
        public init(header: UInt8) { self.init(rawValue: header >> 1) }

        public static let trailN = NALType(rawValue: 0)
        public static let trailR = NALType(rawValue: 1)
        public static let blaWLP = NALType(rawValue: 16)
        public static let blaWRADL = NALType(rawValue: 17)
        public static let blaNLP = NALType(rawValue: 18)
        public static let idrWRADL = NALType(rawValue: 19)
        public static let idrNLP = NALType(rawValue: 20)
        public static let cra = NALType(rawValue: 21)
        public static let vps = NALType(rawValue: 32)
        public static let sps = NALType(rawValue: 33)
        public static let pps = NALType(rawValue: 34)
        public static let accessUnitDelimiter = NALType(rawValue: 35)
        public static let endOfSequence = NALType(rawValue: 36)
        public static let endOfBitstream = NALType(rawValue: 37)
        public static let fillerData = NALType(rawValue: 38)
        public static let seiPrefix = NALType(rawValue: 39)
        public static let seiSuffix = NALType(rawValue: 40)

        /// IRAP pictures (BLA, IDR, CRA and the reserved 22, 23): a decoder can start here.
        public var isIRAP: Bool { (16...23).contains(rawValue) }
        public var description: String { "h265 nal \(rawValue)" }
    }

    public static func nalType(of nal: ByteBuffer) -> NALType? {
        nal.getInteger(at: nal.readerIndex, as: UInt8.self).map(NALType.init(header:))
    }

    /// True if a 4-byte-length-prefixed access unit holds an IRAP picture.
    public static func containsIRAP(lengthPrefixed accessUnit: ByteBuffer) -> Bool {
        LengthPrefixedNALIterator.contains(in: accessUnit) { nalType(of: $0)?.isIRAP == true }
    }

    /// The general part of profile_tier_level() (7.3.3); sub-layer fields are parsed past.
    public struct ProfileTierLevel: Sendable, Equatable {
        public var profileSpace: Int
        public var tierFlag: Bool
        public var profileIdc: Int
        public var compatibilityFlags: UInt32
        /// progressive/interlaced/non-packed/frame-only flags and the 44 bits after them.
        public var constraintIndicatorFlags: UInt64
        public var levelIdc: Int

        public init(profileSpace: Int, tierFlag: Bool, profileIdc: Int, compatibilityFlags: UInt32,
                    constraintIndicatorFlags: UInt64, levelIdc: Int) {
            self.profileSpace = profileSpace
            self.tierFlag = tierFlag
            self.profileIdc = profileIdc
            self.compatibilityFlags = compatibilityFlags
            self.constraintIndicatorFlags = constraintIndicatorFlags
            self.levelIdc = levelIdc
        }

        static func read(_ r: inout BitReader, maxSubLayersMinus1: Int) throws -> ProfileTierLevel {
            let ptl = ProfileTierLevel(
                profileSpace: try r.int(2), tierFlag: try r.bit(), profileIdc: try r.int(5),
                compatibilityFlags: UInt32(try r.bits(32)), constraintIndicatorFlags: try r.bits(48),
                levelIdc: try r.int(8))
            var present: [(profile: Bool, level: Bool)] = []
            for _ in 0..<maxSubLayersMinus1 {
                present.append((try r.bit(), try r.bit()))
            }
            if maxSubLayersMinus1 > 0 {
                try r.skip(2 * (8 - maxSubLayersMinus1))  // reserved_zero_2bits
            }
            for p in present {
                if p.profile { try r.skip(88) }  // sub_layer profile space … constraint flags
                if p.level { try r.skip(8) }  // sub_layer_level_idc
            }
            return ptl
        }
    }

    /// What the relay needs from a video parameter set (7.3.2.1).
    public struct VPS: Sendable, Equatable {
        public var id: Int
        public var maxSubLayers: Int
        public var temporalIdNesting: Bool
        public var profileTierLevel: ProfileTierLevel

        public init(nal: ByteBuffer) throws {
            var r = try HEVC.reader(nal, expecting: .vps, name: "VPS")
            id = try r.int(4)
            try r.skip(2 + 6)  // base_layer_internal/available, max_layers_minus1
            maxSubLayers = try r.int(3) + 1
            temporalIdNesting = try r.bit()
            try r.skip(16)  // vps_reserved_0xffff_16bits
            guard maxSubLayers <= 7 else { throw CodecError.invalid("H.265 VPS: vps_max_sub_layers_minus1 7") }
            profileTierLevel = try .read(&r, maxSubLayersMinus1: maxSubLayers - 1)
        }
    }

    /// What the relay needs from a sequence parameter set (7.3.2.2), base layer only.
    public struct SPS: Sendable, Equatable {
        public var vpsId: Int
        public var maxSubLayers: Int
        public var temporalIdNesting: Bool
        public var profileTierLevel: ProfileTierLevel
        public var id: Int
        public var chromaFormatIdc: Int
        public var separateColourPlane: Bool
        public var codedWidth: Int
        public var codedHeight: Int
        /// Display size: coded size minus the conformance window.
        public var width: Int
        public var height: Int
        public var bitDepthLuma: Int
        public var bitDepthChroma: Int

        public init(nal: ByteBuffer) throws {
            var r = try HEVC.reader(nal, expecting: .sps, name: "SPS")
            vpsId = try r.int(4)
            maxSubLayers = try r.int(3) + 1
            guard maxSubLayers <= 7 else { throw CodecError.invalid("H.265 SPS: sps_max_sub_layers_minus1 7") }
            temporalIdNesting = try r.bit()
            profileTierLevel = try .read(&r, maxSubLayersMinus1: maxSubLayers - 1)
            id = try r.ue()
            guard id <= 15 else { throw CodecError.invalid("H.265 SPS: sps_seq_parameter_set_id \(id)") }
            chromaFormatIdc = try r.ue()
            guard chromaFormatIdc <= 3 else { throw CodecError.invalid("H.265 SPS: chroma_format_idc \(chromaFormatIdc)") }
            separateColourPlane = chromaFormatIdc == 3 ? try r.bit() : false
            codedWidth = try r.ue()
            codedHeight = try r.ue()
            var window = (left: 0, right: 0, top: 0, bottom: 0)
            if try r.bit() {
                window = (try r.ue(), try r.ue(), try r.ue(), try r.ue())
            }
            bitDepthLuma = try r.ue() + 8
            bitDepthChroma = try r.ue() + 8
            guard bitDepthLuma <= 16, bitDepthChroma <= 16 else {
                throw CodecError.invalid("H.265 SPS: bit depth \(bitDepthLuma)/\(bitDepthChroma)")
            }
            // The window is in chroma sample units (Table 6-1), luma units when ChromaArrayType is 0.
            let chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc
            let subWidthC = chromaArrayType == 1 || chromaArrayType == 2 ? 2 : 1
            let subHeightC = chromaArrayType == 1 ? 2 : 1
            width = codedWidth - subWidthC * (window.left + window.right)
            height = codedHeight - subHeightC * (window.top + window.bottom)
            guard codedWidth <= 16888, codedHeight <= 16888, width > 0, height > 0 else {
                throw CodecError.invalid("H.265 SPS: picture size \(codedWidth)x\(codedHeight) cropped to \(width)x\(height)")
            }
        }
    }

    /// Checks the NAL type and returns a reader positioned after the 2-byte NAL header.
    static func reader(_ nal: ByteBuffer, expecting type: NALType, name: String) throws -> BitReader {
        guard nal.readableBytes >= 2, let actual = nalType(of: nal) else {
            throw CodecError.truncated("H.265 \(name): \(nal.readableBytes) bytes")
        }
        guard actual == type else {
            throw CodecError.invalid("H.265 \(name): NAL type \(actual.rawValue), expected \(type.rawValue)")
        }
        var r = BitReader(nal: nal)
        try r.skip(16)
        return r
    }
}
