import NIOCore
import RelayCore

/// The body of an FLV audio/video tag, which is also the payload of an RTMP audio/video
/// message: one place that composes it for the FLV muxer, the RTMP muxer and the camera.
public enum FLVTagBody {
    /// Writes the header that precedes a media packet's payload in its body (video: frame type,
    /// codec, composition time; audio: sound format). False, with nothing written, for audio of
    /// a stream without audio parameters.
    @discardableResult
    public static func writeMediaHeader(_ packet: AVPacket, stream: AVStream, hevcMode: HEVCFLVMode,
                                        into header: inout ByteBuffer) -> Bool {
        if packet.isVideo {
            let cts = Int32(clamping: (packet.pts &- packet.dts).rescaled(from: stream.timebase, to: 1000))
            FLVVideo.writeHeader(codec: packet.codec, isKeyFrame: packet.isKeyFrame, compositionTime: cts,
                                 hevcMode: hevcMode, into: &header)
            return true
        }
        guard let audio = stream.audio else { return false }
        FLVAudio.writeHeader(codec: packet.codec, audio: audio, isSequenceHeader: false, into: &header)
        return true
    }

    /// Writes the whole sequence-header body of `stream` (AVC/HEVC decoder configuration record,
    /// AAC AudioSpecificConfig); its tag type (`FLVTagType.video` or `.audio`), or nil with
    /// nothing written when the stream has none.
    public static func writeSequenceHeader(_ stream: AVStream, hevcMode: HEVCFLVMode, into body: inout ByteBuffer) -> UInt8? {
        switch stream.codec {
        case .h264, .h265:
            guard stream.extradata.readableBytes > 0 else { return nil }
            FLVVideo.writeSequenceHeader(codec: stream.codec, record: stream.extradata, hevcMode: hevcMode, into: &body)
            return FLVTagType.video
        case .aac:
            guard let audio = stream.audio, stream.extradata.readableBytes > 0 else { return nil }
            FLVAudio.writeHeader(codec: .aac, audio: audio, isSequenceHeader: true, into: &body)
            body.writeImmutableBuffer(stream.extradata)
            return FLVTagType.audio
        default:
            return nil
        }
    }
}
