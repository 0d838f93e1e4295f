import NIOCore

/// One track of a source: codec, its decoder configuration and what was parsed from it.
///
/// `extradata` is the codec's configuration record in the form RTMP/FLV and MP4 use:
/// AVCDecoderConfigurationRecord (H.264), HEVCDecoderConfigurationRecord (H.265),
/// AudioSpecificConfig (AAC); empty for codecs that need none (G.711).
public struct AVStream: Sendable, Equatable {
    public var index: Int
    public var codec: CodecID
    /// Ticks per second of this track's `AVPacket.dts`/`pts`.
    public var timebase: Int
    public var extradata: ByteBuffer
    public var video: VideoParameters?
    public var audio: AudioParameters?

    public init(index: Int, codec: CodecID, timebase: Int, extradata: ByteBuffer = ByteBuffer(),
                video: VideoParameters? = nil, audio: AudioParameters? = nil) {
        self.index = index
        self.codec = codec
        self.timebase = timebase
        self.extradata = extradata
        self.video = video
        self.audio = audio
    }

    public var kind: MediaKind { codec.isVideo ? .video : .audio }
}

/// Parsed from SPS/VPS (H.264, H.265).
public struct VideoParameters: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var profile: Int
    public var level: Int
    /// Raw parameter-set NAL units (no start code, no length prefix), in decoder order.
    public var vps: [ByteBuffer]
    public var sps: [ByteBuffer]
    public var pps: [ByteBuffer]

    public init(width: Int, height: Int, profile: Int, level: Int,
                vps: [ByteBuffer] = [], sps: [ByteBuffer], pps: [ByteBuffer]) {
        self.width = width
        self.height = height
        self.profile = profile
        self.level = level
        self.vps = vps
        self.sps = sps
        self.pps = pps
    }
}

/// Parsed from AudioSpecificConfig, or given by the codec (G.711: 8 kHz mono unless told).
public struct AudioParameters: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    /// AAC audio object type (2 = LC); 0 for other codecs.
    public var objectType: Int

    public init(sampleRate: Int, channels: Int, objectType: Int = 0) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.objectType = objectType
    }
}

extension AudioParameters {
    /// G.711 as every ingest here carries it (RFC 3551 PCMA/PCMU): 8 kHz mono.
    public static let g711 = AudioParameters(sampleRate: 8000, channels: 1)
}

extension AVStream {
    /// A G.711 (A-law or µ-law) track at 8 kHz mono.
    public static func g711(_ codec: CodecID, index: Int, timebase: Int) -> AVStream {
        AVStream(index: index, codec: codec, timebase: timebase, audio: .g711)
    }
}
