import NIOCore
import RelayCore

/// FLV/RTMP tag bodies → the protocol-neutral model: one video track (index 0) and one audio
/// track (index 1), timestamps in milliseconds (timebase 1000), as `MediaEvent`s (a `.stream`
/// before the packets that need it). Per publisher; not shared.
public struct FLVDemuxer: Sendable {
    public static let videoIndex = 0
    public static let audioIndex = 1
    public static let timebase = 1000

    public private(set) var videoStream: AVStream?
    public private(set) var audioStream: AVStream?
    /// The sequence header as received, to recognise a repeat (publishers resend it, e.g. per GOP).
    private var videoRecord: ByteBuffer?
    /// NAL length size of the current record, when frames need rewriting to 4-byte lengths.
    private var videoLengthSize = 4

    public init() {}

    /// Frames before the first sequence header (or of another codec than it) are dropped:
    /// nothing downstream could decode them. Appends to `events` (the caller reuses the array, so
    /// a frame costs no allocation for it).
    public mutating func video(body: ByteBuffer, timestamp: Int64, into events: inout [MediaEvent]) throws {
        switch try FLVVideo.parse(body) {
        case .sequenceHeader(let codec, let record):
            if videoStream?.codec == codec && videoRecord == record { return }
            let stream = try makeVideoStream(codec, record: record)
            videoStream = stream
            videoRecord = record
            events.append(.stream(stream))

        case .frame(let codec, let isKeyFrame, let cts, let data):
            guard let stream = videoStream, stream.codec == codec, data.readableBytes > 0 else { return }
            // A rewrite that outgrows what an FLV tag / RTMP message can carry (24-bit sizes)
            // throws: no encoder makes such a frame (it takes millions of tiny NAL units), so
            // the publisher is refused rather than its frame trapping or clogging the muxers.
            let payload = try AnnexB.normalizedLengthPrefix(data, lengthSize: videoLengthSize,
                                                            maxOutputBytes: FLVVideo.maxFramePayload)
            events.append(.packet(AVPacket(streamIndex: Self.videoIndex, codec: codec, dts: timestamp,
                                           pts: timestamp &+ Int64(cts), isKeyFrame: isKeyFrame, payload: payload)))

        case .endOfSequence, .ignored:
            return
        }
    }

    public mutating func audio(body: ByteBuffer, timestamp: Int64, into events: inout [MediaEvent]) throws {
        switch try FLVAudio.parse(body) {
        case .aacSequenceHeader(let asc):
            if let current = audioStream, current.codec == .aac, current.extradata == asc { return }
            let stream = try AVStream.aac(index: Self.audioIndex, timebase: Self.timebase, asc: asc)
            audioStream = stream
            events.append(.stream(stream))

        case .frame(.aac, let data, _, _):
            guard audioStream?.codec == .aac else { return }
            events.append(.packet(audioPacket(.aac, data, timestamp)))

        case .frame(let codec, let data, let rate, let channels):
            // No sequence header for these: the tag flags are the configuration.
            let params = AudioParameters(sampleRate: rate, channels: channels)
            if audioStream?.codec != codec || audioStream?.audio != params {
                let stream = AVStream(index: Self.audioIndex, codec: codec, timebase: Self.timebase, audio: params)
                audioStream = stream
                events.append(.stream(stream))
            }
            events.append(.packet(audioPacket(codec, data, timestamp)))

        case .ignored:
            return
        }
    }

    private func audioPacket(_ codec: CodecID, _ data: ByteBuffer, _ timestamp: Int64) -> AVPacket {
        AVPacket(streamIndex: Self.audioIndex, codec: codec, dts: timestamp, pts: timestamp,
                 isKeyFrame: true, payload: data)
    }

    /// Parses the record; one with 1- or 2-byte NAL lengths is re-encoded with 4, since frames
    /// are rewritten to the relay's 4-byte form.
    private mutating func makeVideoStream(_ codec: CodecID, record: ByteBuffer) throws -> AVStream {
        let lengthSize: Int
        let normalized: ByteBuffer
        if codec == .h264 {
            var parsed = try AVCDecoderConfigurationRecord(parsing: record)
            lengthSize = parsed.nalLengthSize
            parsed.nalLengthSize = 4
            normalized = lengthSize == 4 ? record : parsed.encoded()
        } else {
            var parsed = try HEVCDecoderConfigurationRecord(parsing: record)
            lengthSize = parsed.nalLengthSize
            parsed.nalLengthSize = 4
            normalized = lengthSize == 4 ? record : parsed.encoded()
        }
        let stream = codec == .h264
            ? try AVStream.h264(index: Self.videoIndex, timebase: Self.timebase, avcRecord: normalized)
            : try AVStream.h265(index: Self.videoIndex, timebase: Self.timebase, hvcRecord: normalized)
        videoLengthSize = lengthSize
        return stream
    }
}
