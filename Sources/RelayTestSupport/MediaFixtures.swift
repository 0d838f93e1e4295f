/// Codec records cut once from ffmpeg 5.1 output (hex), shared by the muxer, demuxer and session
/// tests so that no test needs a media file.
public enum MediaFixtures {
    /// avcC from the first video tag of /work/shared/media/h264_aac_720p.flv (H.264 Main 1280x720, level 3.1).
    public static let avcRecord = "014d401fffe10017674d401fda014016ec0440000003004000000ca3c60ca801000468ef3c80"
    /// The SPS and PPS inside `avcRecord`.
    public static let avcSPS = "674d401fda014016ec0440000003004000000ca3c60ca8"
    public static let avcPPS = "68ef3c80"
    /// libx264 -profile:v main, 1280x720 (ffprobe: Main, level 31).
    public static let h264Main720SPS = "674d401feca02802dd80880000030008000003019078c18cb0"
    public static let h264Main720PPS = "68ebe3cb20"
    /// libx264 -profile:v high, 1920x1080: 68 MB rows (1088) cropped by 8 (ffprobe: High, level 40).
    public static let h264High1080SPS = "67640028acd940780227e5c044000003000400000300c83c60c658"
    public static let h264High1080PPS = "68ebe3cb22c0"
    /// libx265, 1280x720 (ffprobe: Main, level 93).
    public static let hevcMain720VPS = "40010c01ffff01600000030090000003000003005d959809"
    public static let hevcMain720SPS = "42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003210"
    public static let hevcMain720PPS = "4401c172b46240"
    /// hvcC of /work/shared/media/h265_aac_720p.mp4 (ffmpeg + libx265) with its 4th array (a 2.3 kB
    /// SEI) cut off and numOfArrays changed 4 → 3 to keep the fixture small (H.265 Main 1280x720).
    public static let hvcRecord = "0101600000009000000000005df000fcfdf8f800000f03"
        + "a00001001840010c01ffff01600000030090000003000003005dba0240"
        + "a10001002942010101600000030090000003000003005da00280802d165ba4a4c2f0168080000003008000000c84"
        + "a2000100064401c0718312"
    /// The VPS, SPS and PPS inside `hvcRecord`.
    public static let hvcVPS = "40010c01ffff01600000030090000003000003005dba0240"
    public static let hvcSPS = "42010101600000030090000003000003005da00280802d165ba4a4c2f0168080000003008000000c84"
    public static let hvcPPS = "4401c0718312"
}
