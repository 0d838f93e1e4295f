import NIOCore
import RelayCore

/// One elementary stream of the program: which track feeds it and how its access units are framed.
struct TSTrack {
    enum Framing {
        /// H.264 / H.265: Annex B with an access unit delimiter; the parameter sets (VPS, SPS,
        /// PPS in decoder order) go before key frames that lack them.
        case annexB(parameterSets: [ByteBuffer])
        /// AAC: each raw access unit behind an ADTS header.
        case adts(AAC.AudioSpecificConfig)
        /// MP3: frames as they are.
        case raw
    }

    let streamIndex: Int
    let codec: CodecID
    let pid: UInt16
    let streamType: UInt8
    /// PES stream_id: 0xE0 video, 0xC0 audio.
    let streamID: UInt8
    let framing: Framing
    /// continuity_counter of the last packet on `pid`.
    var cc: UInt8 = 0x0F

    var isVideo: Bool { codec.isVideo }

    /// The track for `stream` on `pid`, or why TS/HLS cannot carry it.
    static func make(_ stream: AVStream, pid: UInt16) -> Result<TSTrack, TSTrackRefusal> {
        switch stream.codec {
        case .h264, .h265:
            let sets = parameterSets(stream)
            return .success(TSTrack(streamIndex: stream.index, codec: stream.codec, pid: pid,
                                    streamType: stream.codec == .h264 ? 0x1B : 0x24, streamID: 0xE0,
                                    framing: .annexB(parameterSets: sets)))
        case .aac:
            guard let config = try? AAC.AudioSpecificConfig(parsing: stream.extradata),
                  (try? AAC.ADTSHeader(config: config, payloadLength: 0)) != nil else {
                return .failure(.init(codec: stream.codec, reason: "its AudioSpecificConfig has no ADTS form"))
            }
            return .success(TSTrack(streamIndex: stream.index, codec: .aac, pid: pid, streamType: 0x0F,
                                    streamID: 0xC0, framing: .adts(config)))
        case .mp3:
            // MPEG-1 audio (32-48 kHz) or its MPEG-2 half rates.
            let type: UInt8 = (stream.audio?.sampleRate ?? 44_100) >= 32_000 ? 0x03 : 0x04
            return .success(TSTrack(streamIndex: stream.index, codec: .mp3, pid: pid, streamType: type,
                                    streamID: 0xC0, framing: .raw))
        case .g711a, .g711u, .opus:
            return .failure(.init(codec: stream.codec, reason: "HLS players cannot decode it in MPEG-TS"))
        }
    }

    /// From the parsed parameters, else from the configuration record.
    private static func parameterSets(_ stream: AVStream) -> [ByteBuffer] {
        if let v = stream.video, !v.sps.isEmpty { return v.vps + v.sps + v.pps }
        if stream.codec == .h264, let r = try? AVCDecoderConfigurationRecord(parsing: stream.extradata) {
            return r.sps + r.pps
        }
        if stream.codec == .h265, let r = try? HEVCDecoderConfigurationRecord(parsing: stream.extradata) {
            return r.vps + r.sps + r.pps
        }
        return []
    }
}

struct TSTrackRefusal: Error, Equatable {
    let codec: CodecID
    let reason: String
}
