import NIOCore
import RelayCore

/// One track of a fragmented MP4 stream: which source track it carries and the sample entry
/// that describes it. Built from an `AVStream`; nil for what MP4 players cannot take here.
struct MP4Track {
    enum Entry {
        /// `avc1` + `avcC` / `hvc1` + `hvcC` with the decoder configuration record.
        case avc(record: ByteBuffer, width: Int, height: Int)
        case hevc(record: ByteBuffer, width: Int, height: Int)
        /// `mp4a` + `esds` with the AudioSpecificConfig.
        case aac(config: ByteBuffer, channels: Int, sampleRate: Int)
    }

    /// Video is track 1, audio track 2, whatever the source's order.
    static let videoID: UInt32 = 1
    static let audioID: UInt32 = 2

    let id: UInt32
    let streamIndex: Int
    let codec: CodecID
    let entry: Entry
    /// Ticks per second of decode times and durations: 90 kHz video, the sample rate for audio.
    let timescale: Int
    /// Every sample's duration when the codec fixes it (AAC: 1024 samples), else nil (estimated).
    let fixedDuration: Int64?

    var isVideo: Bool { id == Self.videoID }

    /// The track for `stream`, or why it is left out.
    static func make(_ stream: AVStream) -> Result<MP4Track, LeftOut> {
        switch stream.codec {
        case .h264:
            guard let record = avcRecord(stream) else { return .failure(.noConfig) }
            let size = dimensions(stream)
            return .success(MP4Track(id: videoID, streamIndex: stream.index, codec: stream.codec,
                                     entry: .avc(record: record, width: size.width, height: size.height),
                                     timescale: 90_000, fixedDuration: nil))
        case .h265:
            guard let record = hevcRecord(stream) else { return .failure(.noConfig) }
            let size = dimensions(stream)
            return .success(MP4Track(id: videoID, streamIndex: stream.index, codec: stream.codec,
                                     entry: .hevc(record: record, width: size.width, height: size.height),
                                     timescale: 90_000, fixedDuration: nil))
        case .aac:
            guard let (config, parsed) = aacConfig(stream), parsed.sampleRate > 0 else { return .failure(.noConfig) }
            let channels = parsed.channels > 0 ? parsed.channels : max(1, stream.audio?.channels ?? 2)
            return .success(MP4Track(id: audioID, streamIndex: stream.index, codec: stream.codec,
                                     entry: .aac(config: config, channels: channels, sampleRate: parsed.sampleRate),
                                     timescale: parsed.sampleRate, fixedDuration: 1024))
        case .g711a, .g711u, .mp3, .opus:
            return .failure(.codec)
        }
    }

    enum LeftOut: Error {
        /// MSE players cannot decode the codec in MP4 (G.711), or it is not carried here.
        case codec
        /// No usable decoder configuration (missing or unparsable extradata).
        case noConfig
    }

    /// The stream's AVCDecoderConfigurationRecord: its extradata when that parses, else one
    /// built from the parameter sets the ingest parsed. Samples carry 4-byte NAL lengths
    /// (`AVPacket`), so a record that says otherwise is rewritten to say 4.
    static func avcRecord(_ stream: AVStream) -> ByteBuffer? {
        if var record = try? AVCDecoderConfigurationRecord(parsing: stream.extradata) {
            guard record.nalLengthSize != 4 else { return stream.extradata }
            record.nalLengthSize = 4
            return record.encoded()
        }
        guard let video = stream.video else { return nil }
        return (try? AVCDecoderConfigurationRecord(sps: video.sps, pps: video.pps))?.encoded()
    }

    static func hevcRecord(_ stream: AVStream) -> ByteBuffer? {
        if var record = try? HEVCDecoderConfigurationRecord(parsing: stream.extradata) {
            guard record.nalLengthSize != 4 else { return stream.extradata }
            record.nalLengthSize = 4
            return record.encoded()
        }
        guard let video = stream.video else { return nil }
        return (try? HEVCDecoderConfigurationRecord(vps: video.vps, sps: video.sps, pps: video.pps))?.encoded()
    }

    /// The AudioSpecificConfig (extradata, or AAC-LC from the rate and channels) and what it says.
    static func aacConfig(_ stream: AVStream) -> (ByteBuffer, AAC.AudioSpecificConfig)? {
        if let parsed = try? AAC.AudioSpecificConfig(parsing: stream.extradata) { return (stream.extradata, parsed) }
        guard let audio = stream.audio,
              let config = try? AAC.lcConfig(sampleRate: audio.sampleRate, channels: audio.channels),
              let parsed = try? AAC.AudioSpecificConfig(parsing: config) else { return nil }
        return (config, parsed)
    }

    private static func dimensions(_ stream: AVStream) -> (width: Int, height: Int) {
        (min(max(0, stream.video?.width ?? 0), 0xFFFF), min(max(0, stream.video?.height ?? 0), 0xFFFF))
    }
}
