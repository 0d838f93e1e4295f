import NIOCore
import RelayCore

/// Writes MPEG-2 program stream packs the way GB28181 devices send them: one pack per frame —
/// pack header, on key frames the system header and the program stream map, then the frame's
/// PES packets (at most ~64 KiB each, PTS on the first). Video on stream id 0xE0, audio on 0xC0.
public struct PSMuxer: Sendable {
    public static let videoStreamID: UInt8 = 0xE0
    public static let audioStreamID: UInt8 = 0xC0
    /// Largest PES payload: PES_packet_length (16 bits) minus the 3 header bytes and 10 bytes of
    /// PTS/DTS, rounded down.
    public static let maxPESPayload = 65_500

    public let videoCodec: CodecID?
    public let audioCodec: CodecID?
    /// Stream id the audio PES are sent on (0xC0 unless a test imitates a device that differs
    /// from its own map).
    public var audioStreamID: UInt8 = PSMuxer.audioStreamID
    /// Stream id the map announces for audio (nil: `audioStreamID`).
    public var mappedAudioStreamID: UInt8?
    private var mapVersion: UInt8 = 0

    public init(video: CodecID?, audio: CodecID?) {
        self.videoCodec = video
        self.audioCodec = audio
    }

    public static func streamType(_ codec: CodecID) -> UInt8? {
        switch codec {
        case .h264: return 0x1B
        case .h265: return 0x24
        case .aac: return 0x0F
        case .g711a: return 0x90
        case .g711u: return 0x91
        default: return nil
        }
    }

    /// One video access unit (NAL units without start codes) as a pack. Times are 90 kHz.
    public func writeVideo(nals: [ByteBuffer], pts: Int64, dts: Int64? = nil, isKey: Bool, into out: inout ByteBuffer) {
        Self.writePackHeader(scr: dts ?? pts, into: &out)
        if isKey {
            writeSystemHeader(into: &out)
            writeMap(into: &out)
        }
        var es = ByteBuffer()
        es.reserveCapacity(nals.reduce(0) { $0 + 4 + $1.readableBytes })
        for nal in nals {
            es.writeInteger(UInt32(1))
            es.writeImmutableBuffer(nal)
        }
        var first = true
        while es.readableBytes > 0, let chunk = es.readSlice(length: min(Self.maxPESPayload, es.readableBytes)) {
            Self.writePES(streamID: Self.videoStreamID, payload: chunk, pts: first ? pts : nil,
                          dts: first && dts != nil && dts != pts ? dts : nil, into: &out)
            first = false
        }
    }

    /// One audio frame (an ADTS frame for AAC, raw bytes for G.711) as a pack.
    public func writeAudio(_ frame: ByteBuffer, pts: Int64, into out: inout ByteBuffer) {
        Self.writePackHeader(scr: pts, into: &out)
        Self.writePES(streamID: audioStreamID, payload: frame, pts: pts, dts: nil, into: &out)
    }

    /// MPEG-2 pack header (ISO/IEC 13818-1 Table 2-38), no stuffing.
    public static func writePackHeader(scr: Int64, muxRate: UInt32 = 0x3FFF, into out: inout ByteBuffer) {
        let s = UInt64(truncatingIfNeeded: scr) & 0x1_FFFF_FFFF
        out.writeInteger(UInt32(0x0000_01BA))
        out.writeInteger(UInt8(0x44 | UInt8(s >> 27 & 0x38) | UInt8(s >> 28 & 0x03)))
        out.writeInteger(UInt8(s >> 20 & 0xFF))
        out.writeInteger(UInt8(s >> 12 & 0xF8) | 0x04 | UInt8(s >> 13 & 0x03))
        out.writeInteger(UInt8(s >> 5 & 0xFF))
        out.writeInteger(UInt8(s << 3 & 0xF8) | 0x04)  // SCR extension 0
        out.writeInteger(UInt8(0x01))
        out.writeInteger(UInt8(muxRate >> 14 & 0xFF))
        out.writeInteger(UInt8(muxRate >> 6 & 0xFF))
        out.writeInteger(UInt8(muxRate << 2 & 0xFC) | 0x03)
        out.writeInteger(UInt8(0xF8))  // reserved, pack_stuffing_length 0
    }

    /// System header (Table 2-40) listing the streams.
    public func writeSystemHeader(into out: inout ByteBuffer) {
        var ids: [UInt8] = []
        if videoCodec != nil { ids.append(Self.videoStreamID) }
        if audioCodec != nil { ids.append(audioStreamID) }
        out.writeInteger(UInt32(0x0000_01BB))
        out.writeInteger(UInt16(6 + 3 * ids.count))
        let rateBound: UInt32 = 0x3FFF
        out.writeInteger(UInt8(0x80 | rateBound >> 15 & 0x7F))
        out.writeInteger(UInt8(rateBound >> 7 & 0xFF))
        out.writeInteger(UInt8(rateBound << 1 & 0xFE) | 0x01)
        out.writeInteger(UInt8((audioCodec != nil ? 1 : 0) << 2))  // audio_bound, fixed 0, CSPS 0
        out.writeInteger(UInt8(0xE0 | (videoCodec != nil ? 1 : 0)))  // locks, marker, video_bound
        out.writeInteger(UInt8(0x7F))
        for id in ids {
            out.writeInteger(id)
            if id >= 0xE0 {
                out.writeInteger(UInt16(0xE000 | 1024))  // scale 1: 1024 × 1024 bytes
            } else {
                out.writeInteger(UInt16(0xC000 | 32))  // scale 0: 32 × 128 bytes
            }
        }
    }

    /// Program stream map (Table 2-41) with its CRC.
    public func writeMap(into out: inout ByteBuffer) {
        var entries: [(UInt8, UInt8)] = []
        if let v = videoCodec, let t = Self.streamType(v) { entries.append((t, Self.videoStreamID)) }
        if let a = audioCodec, let t = Self.streamType(a) { entries.append((t, mappedAudioStreamID ?? audioStreamID)) }
        let start = out.writerIndex
        out.writeInteger(UInt32(0x0000_01BC))
        out.writeInteger(UInt16(10 + 4 * entries.count))
        out.writeInteger(UInt8(0xE0 | mapVersion & 0x1F))  // current_next_indicator 1, version
        out.writeInteger(UInt8(0xFF))
        out.writeInteger(UInt16(0))  // program_stream_info_length
        out.writeInteger(UInt16(4 * entries.count))
        for (type, id) in entries {
            out.writeInteger(type)
            out.writeInteger(id)
            out.writeInteger(UInt16(0))
        }
        let crc = out.withUnsafeReadableBytes { p in
            MPEG2Systems.crc32(UnsafeRawBufferPointer(rebasing: p[(start - out.readerIndex)...]))
        }
        out.writeInteger(crc)
    }

    /// One PES packet with an MPEG-2 header. `payload` must fit one packet.
    public static func writePES(streamID: UInt8, payload: ByteBuffer, pts: Int64?, dts: Int64?,
                                into out: inout ByteBuffer) {
        let timeBytes = pts == nil ? 0 : (dts == nil ? 5 : 10)
        out.writeInteger(UInt32(0x0000_0100) | UInt32(streamID))
        out.writeInteger(UInt16(3 + timeBytes + payload.readableBytes))
        out.writeInteger(UInt8(0x80))  // '10', not scrambled, no priority/alignment/copyright flags
        out.writeInteger(UInt8(pts == nil ? 0 : (dts == nil ? 0x80 : 0xC0)))
        out.writeInteger(UInt8(timeBytes))
        if let pts {
            MPEG2Systems.writeTimestamp(pts, prefix: dts == nil ? 0x2 : 0x3, into: &out)
            if let dts { MPEG2Systems.writeTimestamp(dts, prefix: 0x1, into: &out) }
        }
        out.writeImmutableBuffer(payload)
    }
}
