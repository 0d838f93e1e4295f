import NIOCore
import RelayCore

/// A parsed video tag body (the same bytes are an RTMP video message).
public enum FLVVideoPacket: Sendable, Equatable {
    /// AVC/HEVC decoder configuration record.
    case sequenceHeader(CodecID, record: ByteBuffer)
    /// One access unit, NAL units length-prefixed as the record says; `data` is a slice of the body.
    case frame(CodecID, isKeyFrame: Bool, compositionTime: Int32, data: ByteBuffer)
    case endOfSequence(CodecID)
    /// Well-formed but nothing the relay carries (other codecs, command frames, metadata); the reason.
    case ignored(String)
}

/// How H.265 goes into FLV/RTMP: Enhanced RTMP ('hvc1' FourCC, what OBS, ffmpeg ≥ 6.1 and
/// current players speak) or the older Chinese-CDN convention of codec id 12.
public enum HEVCFLVMode: String, Sendable {
    case enhanced
    case legacy
}

/// Video tag bodies: legacy FLV (E.4.3.1, codec id 7 AVC / 12 HEVC) and Enhanced RTMP (ExHeader).
public enum FLVVideo {
    static let codecAVC: UInt8 = 7
    static let codecHEVC: UInt8 = 12
    static let keyFrame: UInt8 = 1
    static let interFrame: UInt8 = 2
    static let commandFrame: UInt8 = 5
    static let fourCCAVC: UInt32 = 0x6176_6331  // 'avc1'
    static let fourCCHEVC: UInt32 = 0x6876_6331  // 'hvc1'
    /// Enhanced RTMP FourCCs that are valid but not carried by this relay.
    static let otherFourCCs: Set<UInt32> = [0x6176_3031, 0x7670_3038, 0x7670_3039]  // 'av01', 'vp08', 'vp09'

    public static func supports(_ codec: CodecID) -> Bool { codec == .h264 || codec == .h265 }

    /// Largest frame payload a video tag / RTMP message can carry: the 24-bit size field less
    /// the longest header `writeHeader` puts in front (8 bytes, enhanced H.265).
    public static let maxFramePayload = 0xFF_FFFF - 8

    public static func parse(_ body: ByteBuffer) throws -> FLVVideoPacket {
        var b = body
        guard let first = b.readInteger(as: UInt8.self) else { throw FLVError.truncated("video tag: empty body") }
        if first & 0x80 != 0 { return try parseEnhanced(first, &b) }

        let frameType = first >> 4
        let codecID = first & 0x0F
        guard (1...5).contains(frameType) else { throw FLVError.invalid("video tag: frame type \(frameType)") }
        guard frameType != commandFrame else { return .ignored("video info/command frame") }
        let codec: CodecID
        switch codecID {
        case codecAVC: codec = .h264
        case codecHEVC: codec = .h265
        default: return .ignored("video codec id \(codecID)")
        }
        guard let packetType = b.readInteger(as: UInt8.self), let cts = readSI24(&b) else {
            throw FLVError.truncated("\(codec) video tag: \(body.readableBytes) bytes")
        }
        switch packetType {
        case 0: return try sequenceHeader(codec, b)
        case 1: return .frame(codec, isKeyFrame: frameType == keyFrame, compositionTime: cts, data: b)
        case 2: return .endOfSequence(codec)
        default: throw FLVError.invalid("\(codec) video tag: packet type \(packetType)")
        }
    }

    /// Enhanced RTMP: [IsExHeader | FrameType:3 | PacketType:4] FourCC [SI24 CTS] data.
    private static func parseEnhanced(_ first: UInt8, _ b: inout ByteBuffer) throws -> FLVVideoPacket {
        let frameType = (first >> 4) & 0x07
        let packetType = first & 0x0F
        guard packetType != 6 && packetType != 7 else {
            return .ignored("enhanced video packet type \(packetType) (multitrack/ModEx)")
        }
        guard let fourCC = b.readInteger(as: UInt32.self) else {
            throw FLVError.truncated("enhanced video tag: no FourCC")
        }
        let codec: CodecID
        switch fourCC {
        case fourCCAVC: codec = .h264
        case fourCCHEVC: codec = .h265
        default:
            guard otherFourCCs.contains(fourCC) else {
                throw FLVError.invalid("enhanced video tag: unknown FourCC 0x\(String(fourCC, radix: 16))")
            }
            return .ignored("video FourCC \(fourCCString(fourCC))")
        }
        guard (1...5).contains(frameType) else { throw FLVError.invalid("enhanced video tag: frame type \(frameType)") }
        if frameType == commandFrame && packetType != 4 { return .ignored("video command frame") }
        let isKey = frameType == keyFrame
        switch packetType {
        case 0: return try sequenceHeader(codec, b)
        case 1:
            guard let cts = readSI24(&b) else { throw FLVError.truncated("enhanced \(codec) CodedFrames: no CTS") }
            return .frame(codec, isKeyFrame: isKey, compositionTime: cts, data: b)
        case 2: return .endOfSequence(codec)
        case 3: return .frame(codec, isKeyFrame: isKey, compositionTime: 0, data: b)
        case 4: return .ignored("enhanced video metadata")
        case 5: return .ignored("MPEG2TSSequenceStart")
        default: return .ignored("enhanced video packet type \(packetType)")
        }
    }

    private static func sequenceHeader(_ codec: CodecID, _ record: ByteBuffer) throws -> FLVVideoPacket {
        guard record.readableBytes > 0 else { throw FLVError.truncated("\(codec) sequence header: empty record") }
        return .sequenceHeader(codec, record: record)
    }

    /// Signed 24-bit big-endian (composition time).
    static func readSI24(_ b: inout ByteBuffer) -> Int32? {
        guard let hi = b.readInteger(as: UInt8.self), let lo = b.readInteger(as: UInt16.self) else { return nil }
        return Int32(bitPattern: (UInt32(hi) << 24) | (UInt32(lo) << 8)) >> 8
    }

    static func writeSI24(_ value: Int32, into out: inout ByteBuffer) {
        let v = UInt32(bitPattern: min(max(value, -0x80_0000), 0x7F_FFFF))
        out.writeInteger(UInt8(truncatingIfNeeded: v >> 16))
        out.writeInteger(UInt16(truncatingIfNeeded: v))
    }

    static func fourCCString(_ v: UInt32) -> String {
        String(decoding: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) }, as: UTF8.self)
    }

    /// Bytes `writeHeader` writes before a frame's payload: 5, or 8 for enhanced H.265.
    public static func headerSize(codec: CodecID, hevcMode: HEVCFLVMode) -> Int {
        codec == .h265 && hevcMode == .enhanced ? 8 : 5
    }

    /// The header of a coded-frame tag; the caller appends the length-prefixed access unit, so
    /// the payload is never copied. CTS is clamped to 24 bits. Only H.264/H.265 (see `supports`).
    public static func writeHeader(codec: CodecID, isKeyFrame: Bool, compositionTime: Int32,
                                   hevcMode: HEVCFLVMode, into out: inout ByteBuffer) {
        let frameType = isKeyFrame ? keyFrame : interFrame
        if codec == .h265 && hevcMode == .enhanced {
            out.writeInteger(0x80 | frameType << 4 | 1)  // CodedFrames
            out.writeInteger(fourCCHEVC)
        } else {
            out.writeInteger(frameType << 4 | (codec == .h265 ? codecHEVC : codecAVC))
            out.writeInteger(UInt8(1))  // NALU
        }
        writeSI24(compositionTime, into: &out)
    }

    /// A whole sequence-header tag body: header then the configuration record.
    public static func writeSequenceHeader(codec: CodecID, record: ByteBuffer, hevcMode: HEVCFLVMode,
                                           into out: inout ByteBuffer) {
        writeControl(codec: codec, packetType: 0, hevcMode: hevcMode, into: &out)
        out.writeImmutableBuffer(record)
    }

    /// A whole end-of-sequence tag body.
    public static func writeEndOfSequence(codec: CodecID, hevcMode: HEVCFLVMode, into out: inout ByteBuffer) {
        writeControl(codec: codec, packetType: 2, hevcMode: hevcMode, into: &out)
    }

    private static func writeControl(codec: CodecID, packetType: UInt8, hevcMode: HEVCFLVMode,
                                     into out: inout ByteBuffer) {
        if codec == .h265 && hevcMode == .enhanced {
            out.writeInteger(0x80 | keyFrame << 4 | packetType)
            out.writeInteger(fourCCHEVC)
        } else {
            out.writeInteger(keyFrame << 4 | (codec == .h265 ? codecHEVC : codecAVC))
            out.writeInteger(packetType)
            writeSI24(0, into: &out)
        }
    }
}
