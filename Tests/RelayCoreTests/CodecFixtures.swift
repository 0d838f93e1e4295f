import RelayTestSupport

/// Real parameter sets, extracted once by hand from ffmpeg 5.1 (libx264 / libx265) output:
///   ffmpeg -f lavfi -i testsrc2=size=WxH:rate=25 -frames:v 1 -c:v libx264|libx265 [opts] -f h264|hevc out
/// then the SPS/PPS/VPS NAL units cut from the Annex-B stream. Expected values are ffprobe's.
/// The tests need neither ffmpeg nor /work/shared. The records other test targets share too are
/// in RelayTestSupport's `MediaFixtures`.
enum CodecFixtures {
    // MARK: H.264

    /// libx264 -flags +ildct+ilme -x264-params tff=1, 1920x1080 interlaced: frame_mbs_only_flag 0,
    /// 34 map units × 2 fields × 16 = 1088 cropped by 2 × 2 × 2 (ffprobe: High, level 40, 1920x1080).
    static let h264Interlaced1080SPS = "67640028acd94078044fde0220000003002000000643e2c5b2c0"
    /// libx264 -profile:v high444 -pix_fmt yuv444p, 640x360: chroma_format_idc 3, crop unit 1
    /// (ffprobe: High 4:4:4 Predictive, level 30, 640x360).
    static let h264High444SPS = "67f4001e919b281405ff1380880000030008000003019078b16cb0"
    static let h264High444PPS = "68ebe3c44c000440"
    /// `h264High1080SPS` with seq_scaling_matrix_present_flag set and 4 of 8 lists sent (custom
    /// 4x4, use-default, early-terminated, 8x8), spliced in by a script; ffprobe still reports
    /// High 1920x1080 level 40 and ffmpeg decodes the original slices with it.
    static let h264ScalingList1080SPS =
        "67640028ad94747610e2315148462040212449249249249249207ad940780227e5c044000003000400000300c83c60c658"
    /// The same for `h264High444SPS` with 12 lists (4:4:4): ffprobe 640x360 level 30.
    static let h264ScalingList444SPS =
        "67f4001e91b28e8ec21c462a2908c408042489249249249249240f4844d940a02ff89c0440000003004000000c83c58b6580"

    /// First video tag body of ffmpeg's FLV (/work/shared/media/h264_aac_720p.flv): 0x17 00 000000 + avcC.
    static let flvAVCSequenceTag = "1700000000" + MediaFixtures.avcRecord
    /// First audio tag body of the same file: 0xAF 00 + AudioSpecificConfig with the SBR sync extension.
    static let flvAACSequenceTag = "af00121056e500"

    // MARK: H.265

    /// libx265 -pix_fmt yuv420p10le, 1920x1080 (ffprobe: Main 10, level 120).
    static let hevcMain10VPS = "40010c01ffff022000000300900000030000030078959809"
    static let hevcMain10SPS = "420101022000000300900000030000030078a003c08010e4d96566924caf016808000003000800000300c840"
    /// libx265, 640x362: coded 640x368 with a conformance window of 3 chroma rows (ffprobe: level 63).
    static let hevcCrop362VPS = "40010c01ffff01600000030090000003000003003f959809"
    static let hevcCrop362SPS = "42010101600000030090000003000003003fa005020171f265959a4932bc05a02000000300200000030321"
    /// libx265 -x265-params temporal-layers=1:bframes=3, 352x288: two temporal sub-layers, so
    /// profile_tier_level has sub-layer flags (ffprobe: Main, level 60).
    static let hevcSubLayersVPS = "40010c02ffff01600000030090000003000003003c00009594aca048"
    static let hevcSubLayersSPS = "42010201600000030090000003000003003c0000a00b080485965652b2c9265780b4040000030004000003006420"
}

/// What ffprobe reports of a picture's parameter set; the parsers must agree with it.
struct FFprobeSays: Sendable, Equatable {
    var width: Int
    var height: Int
    var profile: Int
    var level: Int
}
