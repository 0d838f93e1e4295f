import NIOCore
import RelayCore

/// Fixtures for the FLV tests; hex cut once from ffmpeg output, no media files needed at test time.
enum FLVFixtures {
    static func buffer(_ hex: String) -> ByteBuffer { ByteBuffer(bytes: bytes(hex)) }

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).filter { $0 != 0x20 }
        precondition(digits.count % 2 == 0, "odd hex fixture")
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            default: preconditionFailure("bad hex digit")
            }
        }
        return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    /// The first 401 bytes of /work/shared/media/h264_aac_720p.flv (ffmpeg 5.1): file header,
    /// onMetaData, the AVC sequence header and the AAC sequence header, each with PreviousTagSize.
    static let ffmpegFLVHead =
        "464c5601050000000900000000120001250000000000000002000a6f6e4d65746144617461080000000d00086475726174696f6e"
        + "00403405e353f7ced9000577696474680040940000000000000006686569676874004086800000000000000d766964656f64617461"
        + "72617465004"
        + "09e84800000000000096672616d6572617465004039000000000000000c766964656f636f646563696400401c000000000000000d"
        + "617564696f646174617261746500405f400000000000000f617564696f73616d706c65726174650040e5888000000000000f6175"
        + "64696f73616d706c6573697a65004030000000000000000673746572656f0101000c617564696f636f6465636964004024000000"
        + "0000000007656e636f64657202000d4c61766635392e32372e313030000866696c6573697a65004154cc36c000000000000900"
        + "0001300900002b000000000000001700000000014d401fffe10017674d401fda014016ec0440000003004000000ca3c60ca80100"
        + "0468ef3c80000000360800000700000000000000af00121056e50000000012"

    /// avcC from that file's first video tag (H.264 Main 1280x720, level 3.1).
    static let avcRecord = "014d401fffe10017674d401fda014016ec0440000003004000000ca3c60ca801000468ef3c80"
    /// libx264 High 1920x1080 SPS/PPS.
    static let high1080SPS = "67640028acd940780227e5c044000003000400000300c83c60c658"
    static let high1080PPS = "68ebe3cb22c0"
    /// hvcC of /work/shared/media/h265_aac_720p.mp4 without its SEI array (H.265 Main 1280x720).
    static let hvcRecord = "0101600000009000000000005df000fcfdf8f800000f03"
        + "a00001001840010c01ffff01600000030090000003000003005dba0240"
        + "a10001002942010101600000030090000003000003005da00280802d165ba4a4c2f0168080000003008000000c84"
        + "a2000100064401c0718312"

    static func avcRecordBuffer() -> ByteBuffer { buffer(avcRecord) }
    static func hvcRecordBuffer() -> ByteBuffer { buffer(hvcRecord) }
}
