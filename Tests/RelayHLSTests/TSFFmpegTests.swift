import Foundation
import NIOCore
import RelayCore
import Testing
@testable import RelayHLS

/// ffmpeg-made clips (B-frames, parameter sets only in the MP4 config record, as RTMP sends
/// them) through the muxer, checked by ffprobe/ffmpeg and by our own reader.
@Suite(.serialized) struct TSFFmpegTests {
    @Test(arguments: [("libx264", "h264"), ("libx265", "hevc")])
    func ffmpegDecodesEveryFrame(encoder: String, codecName: String) throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try FFmpegClip.make(encoder: encoder, in: dir)
        let videoFrames = clip.count(codecName == "h264" ? .h264 : .h265), audioFrames = clip.count(.aac)
        #expect(videoFrames == 50 && audioFrames > 80)

        let muxer = TSMuxer()
        let (bytes, keyOffsets) = clip.mux(muxer)
        #expect(muxer.droppedFrames == 0)
        let r = TSReader(bytes)
        #expect(r.problems.isEmpty, "\(r.problems.prefix(5))")
        #expect(r.pats == 1 + keyOffsets.count)

        let ts = dir.appendingPathComponent("out.ts")
        try Data(bytes.readableBytesView).write(to: ts)
        let probe = try String(decoding: runTool("ffprobe", ["-v", "error", "-count_frames", "-show_entries",
                                                             "stream=codec_name,nb_read_frames", "-of", "csv=p=0", ts.path]),
                               as: UTF8.self)
        // (TS lists each stream under its program and on its own: the same line twice.)
        #expect(Set(probe.split(separator: "\n").map(String.init)) == ["aac,\(audioFrames)", "\(codecName),\(videoFrames)"], "\(probe)")
        _ = try runTool("ffmpeg", ["-hide_banner", "-v", "error", "-i", ts.path, "-f", "null", "-"])

        // An HLS segment cut before the second key frame decodes on its own (PAT/PMT and
        // parameter sets in-band) and holds that GOP's frames.
        try #require(keyOffsets.count == 2)
        let segment = dir.appendingPathComponent("segment.ts")
        try Data(bytes.readableBytesView.dropFirst(keyOffsets[1])).write(to: segment)
        let segmentProbe = try String(decoding: runTool("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v",
                                                                    "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
                                                                    segment.path]), as: UTF8.self)
        #expect(Set(segmentProbe.split(separator: "\n")) == ["25"], "\(segmentProbe)")
        _ = try runTool("ffmpeg", ["-hide_banner", "-v", "error", "-i", segment.path, "-f", "null", "-"])
    }
}
