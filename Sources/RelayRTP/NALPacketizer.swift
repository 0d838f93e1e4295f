import NIOCore
import RelayCore

/// H.264 (RFC 6184, packetization-mode 1) and H.265 (RFC 7798) payloads: a NAL unit that fits
/// is sent as is (single NAL unit packet); a bigger one is split into fragmentation units
/// (FU-A, type 28 / FU, type 49). The marker bit is set on the last packet of an access unit.
public enum NALPacketizer {
    public enum Codec: Sendable {
        case h264, h265

        var headerSize: Int { self == .h264 ? 1 : 2 }

        func type(_ firstByte: UInt8) -> UInt8 {
            self == .h264 ? firstByte & 0x1F : (firstByte >> 1) & 0x3F
        }

        func isAccessUnitDelimiter(_ type: UInt8) -> Bool { self == .h264 ? type == 9 : type == 35 }
        func isSPS(_ type: UInt8) -> Bool { self == .h264 ? type == 7 : type == 33 }
    }

    /// NAL units of one access unit that are packetized at most.
    public static let maxNALUnits = 4096

    /// Packetizes one access unit (4-byte length-prefixed NAL units). `parameterSets` are sent
    /// first when the unit carries no SPS of its own: for key frames, so a player that joins
    /// there, or missed a configuration change, can decode without the SDP.
    public static func packetize(_ accessUnit: ByteBuffer, codec: Codec, timestamp: UInt32, parameterSets: [ByteBuffer],
                                 writer: inout RTPPacketWriter, into buffer: inout ByteBuffer) {
        if !parameterSets.isEmpty && !contains(accessUnit, codec: codec, where: codec.isSPS) {
            for nal in parameterSets where nal.readableBytes > 0 {
                write(nal, codec: codec, marker: false, timestamp: timestamp, writer: &writer, into: &buffer)
            }
        }
        var nals = LengthPrefixedNALIterator(accessUnit)
        var current = nextNAL(&nals, codec: codec)
        var count = 0
        while let nal = current {
            // A real picture has at most a few hundred slices; millions of tiny units are a
            // publisher's amplification attempt (one RTP packet each): the rest is not sent.
            count += 1
            if count >= maxNALUnits {
                write(nal, codec: codec, marker: true, timestamp: timestamp, writer: &writer, into: &buffer)
                return
            }
            // A length that overruns ends the unit: what came before is still sent, marked last.
            let following = nextNAL(&nals, codec: codec)
            write(nal, codec: codec, marker: following == nil, timestamp: timestamp, writer: &writer, into: &buffer)
            current = following
        }
    }

    /// The next NAL unit worth sending (delimiters and empty units are dropped).
    private static func nextNAL(_ it: inout LengthPrefixedNALIterator, codec: Codec) -> ByteBuffer? {
        while let nal = try? it.next() {
            guard let first = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { continue }
            if codec.isAccessUnitDelimiter(codec.type(first)) { continue }
            return nal
        }
        return nil
    }

    static func contains(_ accessUnit: ByteBuffer, codec: Codec, where predicate: (UInt8) -> Bool) -> Bool {
        var nals = LengthPrefixedNALIterator(accessUnit)
        while let nal = try? nals.next() {
            if let first = nal.getInteger(at: nal.readerIndex, as: UInt8.self), predicate(codec.type(first)) { return true }
        }
        return false
    }

    static func write(_ nal: ByteBuffer, codec: Codec, marker: Bool, timestamp: UInt32,
                      writer: inout RTPPacketWriter, into buffer: inout ByteBuffer) {
        let size = nal.readableBytes
        let max = writer.maxPayload
        if size <= max {
            writer.write(marker: marker, timestamp: timestamp, into: &buffer) { $0.writeImmutableBuffer(nal) }
            return
        }
        let base = nal.readerIndex
        guard let h0 = nal.getInteger(at: base, as: UInt8.self) else { return }
        let type = codec.type(h0)
        let headerSize = codec.headerSize
        let chunk = max - headerSize - 1
        var offset = headerSize
        nal.withUnsafeReadableBytes { bytes in
            while offset < size {
                let length = min(chunk, size - offset)
                let isFirst = offset == headerSize
                let isLast = offset + length == size
                let fuHeader = (isFirst ? 0x80 : 0) | (isLast ? 0x40 : 0) | type
                let part = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
                writer.write(marker: marker && isLast, timestamp: timestamp, into: &buffer) { out in
                    switch codec {
                    case .h264:
                        out.writeInteger(h0 & 0xE0 | 28)  // FU indicator: F and NRI of the unit, type FU-A
                    case .h265:
                        out.writeInteger(h0 & 0x81 | 49 << 1)  // payload header: F, type FU, layer id high bit
                        out.writeInteger(bytes[1])  // layer id low bits, TID
                    }
                    out.writeInteger(fuHeader)
                    out.writeBytes(part)
                }
                offset += length
            }
        }
    }
}
