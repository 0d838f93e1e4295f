import NIOCore

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1): the H.264 sequence header of
/// RTMP/FLV and the `avcC` box of MP4.
public struct AVCDecoderConfigurationRecord: Sendable, Equatable {
    public var profileIndication: UInt8
    public var profileCompatibility: UInt8
    public var levelIndication: UInt8
    /// Bytes in each NAL length prefix of the frames that use this record: 1, 2 or 4.
    public var nalLengthSize: Int
    /// SPS / PPS NAL units (slices of the parsed buffer).
    public var sps: [ByteBuffer]
    public var pps: [ByteBuffer]
    /// The trailer of High and later profiles (chroma format, bit depths); 4:2:0 8-bit when absent.
    public var chromaFormat: UInt8
    public var bitDepthLumaMinus8: UInt8
    public var bitDepthChromaMinus8: UInt8

    /// Parses a record. A missing or short high-profile trailer is tolerated, as encoders often omit it.
    public init(parsing record: ByteBuffer) throws {
        var b = record
        guard b.readableBytes >= 7,
              let version = b.readInteger(as: UInt8.self),
              let profile = b.readInteger(as: UInt8.self),
              let compat = b.readInteger(as: UInt8.self),
              let level = b.readInteger(as: UInt8.self),
              let lengthByte = b.readInteger(as: UInt8.self),
              let spsCount = b.readInteger(as: UInt8.self)
        else { throw CodecError.truncated("AVCDecoderConfigurationRecord: \(record.readableBytes) bytes") }
        guard version == 1 else {
            throw CodecError.invalid("AVCDecoderConfigurationRecord: configurationVersion \(version)")
        }
        profileIndication = profile
        profileCompatibility = compat
        levelIndication = level
        nalLengthSize = Int(lengthByte & 0x03) + 1
        guard nalLengthSize != 3 else {
            throw CodecError.invalid("AVCDecoderConfigurationRecord: lengthSizeMinusOne 2")
        }
        sps = try Self.readNALs(&b, count: Int(spsCount & 0x1F), what: "SPS")
        guard let ppsCount = b.readInteger(as: UInt8.self) else {
            throw CodecError.truncated("AVCDecoderConfigurationRecord: no PPS count")
        }
        pps = try Self.readNALs(&b, count: Int(ppsCount), what: "PPS")
        chromaFormat = 1
        bitDepthLumaMinus8 = 0
        bitDepthChromaMinus8 = 0
        if Self.hasTrailer(profile), b.readableBytes >= 4,
           let c = b.readInteger(as: UInt8.self), let l = b.readInteger(as: UInt8.self),
           let ch = b.readInteger(as: UInt8.self) {
            chromaFormat = c & 0x03
            bitDepthLumaMinus8 = l & 0x07
            bitDepthChromaMinus8 = ch & 0x07
        } else if let first = sps.first, let parsed = try? H264.SPS(nal: first) {
            // No trailer: take it from the SPS so a re-encoded record carries the right values.
            chromaFormat = UInt8(parsed.chromaFormatIdc)
            bitDepthLumaMinus8 = UInt8(parsed.bitDepthLuma - 8)
            bitDepthChromaMinus8 = UInt8(parsed.bitDepthChroma - 8)
        }
    }

    /// Builds a record from parameter sets; profile, level and the trailer come from the first SPS.
    public init(sps: [ByteBuffer], pps: [ByteBuffer], nalLengthSize: Int = 4) throws {
        guard let first = sps.first else { throw CodecError.invalid("AVCDecoderConfigurationRecord: no SPS") }
        guard !pps.isEmpty else { throw CodecError.invalid("AVCDecoderConfigurationRecord: no PPS") }
        guard sps.count <= 31, pps.count <= 255 else {
            throw CodecError.invalid("AVCDecoderConfigurationRecord: \(sps.count) SPS / \(pps.count) PPS")
        }
        guard [1, 2, 4].contains(nalLengthSize) else {
            throw CodecError.invalid("AVCDecoderConfigurationRecord: NAL length size \(nalLengthSize)")
        }
        for nal in sps + pps where nal.readableBytes > 0xFFFF {
            throw CodecError.invalid("AVCDecoderConfigurationRecord: parameter set of \(nal.readableBytes) bytes")
        }
        let parsed = try H264.SPS(nal: first)
        self.profileIndication = UInt8(parsed.profileIdc)
        self.profileCompatibility = UInt8(parsed.constraintFlags)
        self.levelIndication = UInt8(parsed.levelIdc)
        self.nalLengthSize = nalLengthSize
        self.sps = sps
        self.pps = pps
        self.chromaFormat = UInt8(parsed.chromaFormatIdc)
        self.bitDepthLumaMinus8 = UInt8(parsed.bitDepthLuma - 8)
        self.bitDepthChromaMinus8 = UInt8(parsed.bitDepthChroma - 8)
    }

    public func write(into out: inout ByteBuffer) {
        out.writeInteger(UInt8(1))
        out.writeInteger(profileIndication)
        out.writeInteger(profileCompatibility)
        out.writeInteger(levelIndication)
        out.writeInteger(UInt8(0xFC | (nalLengthSize - 1) & 0x03))
        out.writeInteger(UInt8(0xE0 | min(sps.count, 31)))
        for nal in sps.prefix(31) { Self.writeNAL(nal, into: &out) }
        out.writeInteger(UInt8(min(pps.count, 255)))
        for nal in pps.prefix(255) { Self.writeNAL(nal, into: &out) }
        if Self.hasTrailer(profileIndication) {
            out.writeInteger(UInt8(0xFC | chromaFormat & 0x03))
            out.writeInteger(UInt8(0xF8 | bitDepthLumaMinus8 & 0x07))
            out.writeInteger(UInt8(0xF8 | bitDepthChromaMinus8 & 0x07))
            out.writeInteger(UInt8(0))  // numOfSequenceParameterSetExt
        }
    }

    /// The encoded record.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var out = allocator.buffer(capacity: 16 + (sps + pps).reduce(0) { $0 + 2 + $1.readableBytes })
        write(into: &out)
        return out
    }

    /// ISO/IEC 14496-15 (2017+): every profile but Baseline, Main and Extended has the trailer.
    static func hasTrailer(_ profile: UInt8) -> Bool {
        profile != 66 && profile != 77 && profile != 88
    }

    static func readNALs(_ b: inout ByteBuffer, count: Int, what: String) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        for i in 0..<count {
            guard let length = b.readInteger(as: UInt16.self), let nal = b.readSlice(length: Int(length)) else {
                throw CodecError.truncated("configuration record: \(what) \(i + 1) of \(count)")
            }
            out.append(nal)
        }
        return out
    }

    static func writeNAL(_ nal: ByteBuffer, into out: inout ByteBuffer) {
        out.writeInteger(UInt16(truncatingIfNeeded: nal.readableBytes))
        out.writeImmutableBuffer(nal)
    }
}

extension AVStream {
    /// RFC 6184's `profile-level-id` of an H.264 track: profile_idc, the constraint flags and
    /// level_idc of its first SPS as six lowercase hex digits ("64001f"); nil for other codecs.
    /// RTSP's SDP and WebRTC's codec choice both name the stream by it.
    public var h264ProfileLevelID: String? {
        guard codec == .h264, let sps = video?.sps.first,
              let bytes = sps.getBytes(at: sps.readerIndex + 1, length: 3) else { return nil }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
    }

    /// An H.264 track from an AVCDecoderConfigurationRecord (kept as `extradata`); size,
    /// profile and level come from its first SPS.
    public static func h264(index: Int, timebase: Int, avcRecord: ByteBuffer) throws -> AVStream {
        let record = try AVCDecoderConfigurationRecord(parsing: avcRecord)
        return try h264(index: index, timebase: timebase, record: record, extradata: avcRecord)
    }

    /// An H.264 track from raw SPS/PPS NAL units (e.g. from an Annex-B ingest); builds the record.
    public static func h264(index: Int, timebase: Int, sps: [ByteBuffer], pps: [ByteBuffer]) throws -> AVStream {
        let record = try AVCDecoderConfigurationRecord(sps: sps, pps: pps)
        return try h264(index: index, timebase: timebase, record: record, extradata: record.encoded())
    }

    static func h264(index: Int, timebase: Int, record: AVCDecoderConfigurationRecord,
                     extradata: ByteBuffer) throws -> AVStream {
        guard let first = record.sps.first else {
            throw CodecError.invalid("AVCDecoderConfigurationRecord: no SPS")
        }
        let sps = try H264.SPS(nal: first)
        let video = VideoParameters(width: sps.width, height: sps.height, profile: sps.profileIdc,
                                    level: sps.levelIdc, sps: record.sps, pps: record.pps)
        return AVStream(index: index, codec: .h264, timebase: timebase, extradata: extradata, video: video)
    }
}
