import NIOCore
import RelayCore

/// A parsed audio tag body (the same bytes are an RTMP audio message).
public enum FLVAudioPacket: Sendable, Equatable {
    /// AudioSpecificConfig.
    case aacSequenceHeader(ByteBuffer)
    /// One frame; `data` is a slice of the body. Rate and channels come from the tag flags,
    /// which for AAC are fixed (44.1 kHz stereo): the AudioSpecificConfig is authoritative there.
    case frame(CodecID, data: ByteBuffer, sampleRate: Int, channels: Int)
    /// Well-formed but nothing the relay carries; the reason.
    case ignored(String)
}

/// Audio tag bodies (FLV spec E.4.2.1): [SoundFormat:4 SoundRate:2 SoundSize:1 SoundType:1] data.
public enum FLVAudio {
    static let formatMP3: UInt8 = 2
    static let formatG711A: UInt8 = 7
    static let formatG711U: UInt8 = 8
    static let formatAAC: UInt8 = 10
    static let formatMP38k: UInt8 = 14
    /// SoundRate bits → Hz.
    static let rates = [5512, 11025, 22050, 44100]

    public static func supports(_ codec: CodecID) -> Bool {
        codec == .aac || codec == .g711a || codec == .g711u || codec == .mp3
    }

    public static func parse(_ body: ByteBuffer) throws -> FLVAudioPacket {
        var b = body
        guard let flags = b.readInteger(as: UInt8.self) else { throw FLVError.truncated("audio tag: empty body") }
        let format = flags >> 4
        let channels = flags & 0x01 != 0 ? 2 : 1
        let codec: CodecID
        var rate = rates[Int(flags >> 2 & 0x03)]
        switch format {
        case formatAAC:
            guard let packetType = b.readInteger(as: UInt8.self) else {
                throw FLVError.truncated("AAC audio tag: no packet type")
            }
            switch packetType {
            case 0:
                guard b.readableBytes >= 2 else {
                    throw FLVError.truncated("AAC sequence header: \(b.readableBytes)-byte AudioSpecificConfig")
                }
                return .aacSequenceHeader(b)
            case 1: codec = .aac
            default: throw FLVError.invalid("AAC audio tag: packet type \(packetType)")
            }
        case formatG711A, formatG711U:
            codec = format == formatG711A ? .g711a : .g711u
            rate = 8000  // the rate bits cannot say 8 kHz; G.711 in FLV is always 8 kHz
        case formatMP3, formatMP38k:
            codec = .mp3
            if format == formatMP38k { rate = 8000 }
        case 9:
            return .ignored("enhanced audio (ExHeader)")
        default:
            return .ignored("sound format \(format)")
        }
        guard b.readableBytes > 0 else { throw FLVError.truncated("\(codec) audio tag: no data") }
        return .frame(codec, data: b, sampleRate: rate, channels: channels)
    }

    /// Bytes `writeHeader` writes: 2 for AAC, 1 for the others.
    public static func headerSize(codec: CodecID) -> Int {
        codec == .aac ? 2 : (supports(codec) ? 1 : 0)
    }

    /// The header of an audio tag; the caller appends the ASC or raw frame. AAC is always
    /// 0xAF (the flags are fixed by the spec); G.711 follows ffmpeg (rate bits 0, 16-bit).
    /// Codecs FLV cannot carry (see `supports`) write nothing.
    public static func writeHeader(codec: CodecID, audio: AudioParameters, isSequenceHeader: Bool,
                                   into out: inout ByteBuffer) {
        let stereo: UInt8 = audio.channels > 1 ? 1 : 0
        switch codec {
        case .aac:
            out.writeInteger(UInt8(0xAF))
            out.writeInteger(UInt8(isSequenceHeader ? 0 : 1))
        case .g711a, .g711u:
            out.writeInteger((codec == .g711a ? formatG711A : formatG711U) << 4 | 0x02 | stereo)
        case .mp3:
            if audio.sampleRate == 8000 {
                out.writeInteger(formatMP38k << 4 | 0x02 | stereo)
            } else {
                // Nearest rate code at or below the rate (48 kHz is signalled as 44 kHz, as ffmpeg does).
                let code = UInt8(rates.lastIndex(where: { $0 <= audio.sampleRate }) ?? 0)
                out.writeInteger(formatMP3 << 4 | code << 2 | 0x02 | stereo)
            }
        default:
            return
        }
    }
}
