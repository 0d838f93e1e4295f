#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// The `--stamp` capture-time SEI: a user_data_unregistered message (payload type 5) whose
/// payload is `uuid` followed by the wall-clock capture time in microseconds since the Unix
/// epoch, 8 bytes big-endian. H.264 carries it in an SEI NAL unit (type 6), H.265 in a prefix
/// SEI NAL unit (type 39), placed before the first slice of every picture, so a player can
/// compute glass-to-glass latency as (its wall clock at display) − (the stamp).
public enum CaptureStamp {
    /// 2e7877ff-3cf1-4e2f-baa5-b0b306f07023, fixed: identifies LiveRelay capture stamps.
    public static let uuid: [UInt8] = [
        0x2E, 0x78, 0x77, 0xFF, 0x3C, 0xF1, 0x4E, 0x2F, 0xBA, 0xA5, 0xB0, 0xB3, 0x06, 0xF0, 0x70, 0x23,
    ]
    static let payloadType: UInt8 = 5
    static let payloadSize = 24

    /// Wall-clock time now, µs since the Unix epoch.
    public static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// The whole SEI NAL unit (header included, emulation prevention applied, no start code or
    /// length prefix).
    public static func seiNAL(codec: CodecID, captureMicros: Int64) -> [UInt8] {
        var rbsp: [UInt8] = [payloadType, UInt8(payloadSize)]
        rbsp += uuid
        let time = UInt64(bitPattern: captureMicros)
        for shift in stride(from: 56, through: 0, by: -8) { rbsp.append(UInt8(truncatingIfNeeded: time >> UInt64(shift))) }
        rbsp.append(0x80)  // rbsp_trailing_bits
        let header: [UInt8] = codec == .h265 ? [39 << 1, 0x01] : [0x06]  // nuh_temporal_id_plus1 = 1
        return header + addEmulationPrevention(rbsp)
    }

    /// Finds the capture stamp in a length-prefixed (AVCC/HVCC) access unit; the time in µs
    /// since the Unix epoch, or nil when the access unit has none (or is malformed).
    public static func captureMicros(inAccessUnit accessUnit: ByteBuffer, codec: CodecID,
                                     lengthSize: Int = 4) -> Int64? {
        var it = LengthPrefixedNALIterator(accessUnit, lengthSize: lengthSize)
        while let nal = try? it.next() {
            guard let header = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { continue }
            let headerSize: Int
            if codec == .h265 {
                guard (header >> 1) & 0x3F == 39 else { continue }
                headerSize = 2
            } else {
                guard header & 0x1F == 6 else { continue }
                headerSize = 1
            }
            guard nal.readableBytes > headerSize,
                  let escaped = nal.getBytes(at: nal.readerIndex + headerSize, length: nal.readableBytes - headerSize)
            else { continue }
            if let time = parseMessages(removeEmulationPrevention(escaped)) { return time }
        }
        return nil
    }

    /// Walks the sei_message()s of an SEI RBSP looking for our user_data_unregistered one.
    static func parseMessages(_ rbsp: [UInt8]) -> Int64? {
        var i = 0
        // A message needs at least type and size bytes; what is left after the last one is
        // rbsp_trailing_bits (0x80).
        while i + 1 < rbsp.count, !(i == rbsp.count - 1 && rbsp[i] == 0x80) {
            var type = 0
            while i < rbsp.count, rbsp[i] == 0xFF { type += 255; i += 1 }
            guard i < rbsp.count else { return nil }
            type += Int(rbsp[i]); i += 1
            var size = 0
            while i < rbsp.count, rbsp[i] == 0xFF { size += 255; i += 1 }
            guard i < rbsp.count else { return nil }
            size += Int(rbsp[i]); i += 1
            guard i + size <= rbsp.count else { return nil }
            if type == Int(payloadType), size >= payloadSize, Array(rbsp[i..<i + 16]) == uuid {
                var time: UInt64 = 0
                for b in rbsp[(i + 16)..<(i + 24)] { time = time << 8 | UInt64(b) }
                return Int64(bitPattern: time)
            }
            i += size
        }
        return nil
    }

    /// RBSP → NAL payload: a 0x03 after any two zero bytes that precede a byte ≤ 3 (7.4.1).
    public static func addEmulationPrevention(_ rbsp: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rbsp.count + 4)
        var zeros = 0
        for b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.append(3)
                zeros = 0
            }
            out.append(b)
            zeros = b == 0 ? zeros + 1 : 0
        }
        // A payload may not end in 0x00 either; ours always ends in 0x80.
        return out
    }

    /// NAL payload → RBSP: drops each 0x03 that follows two zero bytes.
    public static func removeEmulationPrevention(_ payload: [UInt8]) -> [UInt8] {
        BitReader.rbsp(payload)
    }
}
