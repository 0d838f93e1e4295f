import NIOCore

/// H.264 / AVC bitstream helpers (ITU-T H.264).
public enum H264 {
    /// `nal_unit_type` (5 bits of the first NAL byte). A struct, not an enum, so unknown
    /// and reserved types still round-trip.
    public struct NALType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue & 0x1F }
        /// From the first byte of a NAL unit.
        public init(header: UInt8) { self.init(rawValue: header) }

        public static let slice = NALType(rawValue: 1)
        public static let sliceDataPartitionA = NALType(rawValue: 2)
        public static let idr = NALType(rawValue: 5)
        public static let sei = NALType(rawValue: 6)
        public static let sps = NALType(rawValue: 7)
        public static let pps = NALType(rawValue: 8)
        public static let accessUnitDelimiter = NALType(rawValue: 9)
        public static let endOfSequence = NALType(rawValue: 10)
        public static let endOfStream = NALType(rawValue: 11)
        public static let fillerData = NALType(rawValue: 12)
        public static let spsExtension = NALType(rawValue: 13)

        public var description: String { "h264 nal \(rawValue)" }
    }

    /// Type of a NAL unit (first readable byte), nil for an empty buffer.
    public static func nalType(of nal: ByteBuffer) -> NALType? {
        nal.getInteger(at: nal.readerIndex, as: UInt8.self).map(NALType.init(header:))
    }

    /// True if a 4-byte-length-prefixed access unit holds an IDR slice.
    public static func containsIDR(lengthPrefixed accessUnit: ByteBuffer) -> Bool {
        LengthPrefixedNALIterator.contains(in: accessUnit) { nalType(of: $0) == .idr }
    }

    /// What the relay needs from a sequence parameter set (7.3.2.1.1).
    public struct SPS: Sendable, Equatable {
        public var profileIdc: Int
        /// constraint_set0..5 flags and the reserved bits, as the byte after profile_idc.
        public var constraintFlags: Int
        public var levelIdc: Int
        public var id: Int
        public var chromaFormatIdc: Int
        public var separateColourPlane: Bool
        public var bitDepthLuma: Int
        public var bitDepthChroma: Int
        public var hasScalingMatrix: Bool
        public var frameMbsOnly: Bool
        /// Display size: coded macroblocks minus the frame cropping window.
        public var width: Int
        public var height: Int

        /// Parses an SPS NAL unit (including its 1-byte NAL header).
        public init(nal: ByteBuffer) throws {
            guard let first = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else {
                throw CodecError.truncated("H.264 SPS: empty")
            }
            guard NALType(header: first) == .sps else {
                throw CodecError.invalid("H.264 SPS: NAL type \(first & 0x1F), expected 7")
            }
            var r = BitReader(nal: nal)
            try r.skip(8)
            try self.init(reading: &r)
        }

        private init(reading r: inout BitReader) throws {
            profileIdc = try r.int(8)
            constraintFlags = try r.int(8)
            levelIdc = try r.int(8)
            id = try r.ue()
            guard id <= 31 else { throw CodecError.invalid("H.264 SPS: seq_parameter_set_id \(id)") }
            chromaFormatIdc = 1
            separateColourPlane = false
            bitDepthLuma = 8
            bitDepthChroma = 8
            hasScalingMatrix = false
            if H264.highProfiles.contains(profileIdc) {
                chromaFormatIdc = try r.ue()
                guard chromaFormatIdc <= 3 else {
                    throw CodecError.invalid("H.264 SPS: chroma_format_idc \(chromaFormatIdc)")
                }
                if chromaFormatIdc == 3 { separateColourPlane = try r.bit() }
                bitDepthLuma = try r.ue() + 8
                bitDepthChroma = try r.ue() + 8
                guard bitDepthLuma <= 14, bitDepthChroma <= 14 else {
                    throw CodecError.invalid("H.264 SPS: bit depth \(bitDepthLuma)/\(bitDepthChroma)")
                }
                try r.skip(1)  // qpprime_y_zero_transform_bypass_flag
                hasScalingMatrix = try r.bit()
                if hasScalingMatrix {
                    for i in 0..<(chromaFormatIdc != 3 ? 8 : 12) where try r.bit() {
                        try H264.skipScalingList(&r, size: i < 6 ? 16 : 64)
                    }
                }
            }
            let log2MaxFrameNumMinus4 = try r.ue()
            guard log2MaxFrameNumMinus4 <= 12 else {
                throw CodecError.invalid("H.264 SPS: log2_max_frame_num_minus4 \(log2MaxFrameNumMinus4)")
            }
            let pocType = try r.ue()
            switch pocType {
            case 0:
                _ = try r.ue()  // log2_max_pic_order_cnt_lsb_minus4
            case 1:
                try r.skip(1)  // delta_pic_order_always_zero_flag
                _ = try r.se()  // offset_for_non_ref_pic
                _ = try r.se()  // offset_for_top_to_bottom_field
                let cycle = try r.ue()
                guard cycle <= 255 else {
                    throw CodecError.invalid("H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle \(cycle)")
                }
                for _ in 0..<cycle { _ = try r.se() }
            case 2:
                break
            default:
                throw CodecError.invalid("H.264 SPS: pic_order_cnt_type \(pocType)")
            }
            _ = try r.ue()  // max_num_ref_frames
            try r.skip(1)  // gaps_in_frame_num_value_allowed_flag
            let widthMbs = try r.ue() + 1
            let heightMapUnits = try r.ue() + 1
            frameMbsOnly = try r.bit()
            if !frameMbsOnly { try r.skip(1) }  // mb_adaptive_frame_field_flag
            try r.skip(1)  // direct_8x8_inference_flag
            var crop = (left: 0, right: 0, top: 0, bottom: 0)
            if try r.bit() {
                crop = (try r.ue(), try r.ue(), try r.ue(), try r.ue())
            }
            // VUI is not needed: size, profile and level are all above it.

            // ChromaArrayType 0 (monochrome or separate planes) crops in luma samples.
            let chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc
            let subWidthC = chromaArrayType == 1 || chromaArrayType == 2 ? 2 : 1
            let subHeightC = chromaArrayType == 1 ? 2 : 1
            let fieldFactor = frameMbsOnly ? 1 : 2
            let codedWidth = widthMbs * 16
            let codedHeight = heightMapUnits * 16 * fieldFactor
            width = codedWidth - subWidthC * (crop.left + crop.right)
            height = codedHeight - subHeightC * fieldFactor * (crop.top + crop.bottom)
            guard widthMbs <= 1024, heightMapUnits <= 1024, width > 0, height > 0 else {
                throw CodecError.invalid("H.264 SPS: picture size \(codedWidth)x\(codedHeight) cropped to \(width)x\(height)")
            }
        }
    }

    /// profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling lists.
    static let highProfiles: Set<Int> = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]

    /// scaling_list() (7.3.2.1.1.1): only parsed to get past it.
    static func skipScalingList(_ r: inout BitReader, size: Int) throws {
        var last = 8, next = 8
        for _ in 0..<size {
            if next != 0 {
                let delta = try r.se()
                guard (-128...127).contains(delta) else {
                    throw CodecError.invalid("H.264 SPS: delta_scale \(delta)")
                }
                next = (last + delta + 256) % 256
            }
            if next != 0 { last = next }
        }
    }
}
