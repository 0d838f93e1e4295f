import NIOCore

/// MPEG-TS transport packets (ISO/IEC 13818-1 2.4.3.2).
enum TS {
    static let packetSize = 188
    static let headerSize = 4
    static let payloadCapacity = packetSize - headerSize
    static let syncByte: UInt8 = 0x47
    static let patPID: UInt16 = 0x0000
    static let pmtPID: UInt16 = 0x1000
    static let videoPID: UInt16 = 0x0100
    static let audioPID: UInt16 = 0x0101
    /// PCR_PID of a program without one (no supported track).
    static let nullPID: UInt16 = 0x1FFF
    /// 33-bit PTS/DTS/PCR base.
    static let timestampMask: UInt64 = 0x1_FFFF_FFFF

    /// The 4-byte packet header: payload_unit_start, PID, adaptation_field_control, continuity_counter.
    static func writeHeader(pid: UInt16, unitStart: Bool, adaptation: Bool, cc: UInt8, into out: inout ByteBuffer) {
        out.writeInteger(UInt32(syncByte) << 24 | (unitStart ? 0x40_0000 : 0) | UInt32(pid & 0x1FFF) << 8
                         | (adaptation ? 0x30 : 0x10) | UInt32(cc & 0x0F))
    }
}

/// Spreads one PES packet over the transport packets of its PID as its bytes are written, straight
/// into the output: a packet header whenever the current packet is full, adaptation-field stuffing
/// in the last one. The PES size is declared up front, so no packet is ever rewritten.
struct TSPacketizer {
    let pid: UInt16
    /// continuity_counter of the last packet written (the next one uses `cc + 1`).
    private(set) var cc: UInt8
    /// PES bytes not yet given a place in a transport packet.
    private var unplaced: Int
    /// Payload bytes left in the current transport packet.
    private var room = 0

    /// `lastCC`: the PID's counter so far; `pesBytes`: the whole PES packet, header included.
    init(pid: UInt16, lastCC: UInt8, pesBytes: Int) {
        self.pid = pid
        self.cc = lastCC
        self.unplaced = max(0, pesBytes)
    }

    /// Starts the first packet (payload_unit_start_indicator) with an optional PCR (27 MHz units
    /// as base·300 + extension; `pcrBase` is 90 kHz) and random_access_indicator.
    mutating func start(pcrBase: UInt64?, randomAccess: Bool, into out: inout ByteBuffer) {
        openPacket(unitStart: true, pcrBase: pcrBase, randomAccess: randomAccess, into: &out)
    }

    /// PES bytes; split at packet boundaries as needed. Bytes past the declared size are dropped.
    mutating func write(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        var offset = 0
        while offset < bytes.count {
            if room == 0 {
                guard unplaced > 0 else { return }
                openPacket(unitStart: false, pcrBase: nil, randomAccess: false, into: &out)
            }
            let n = min(room, bytes.count - offset)
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            offset += n
            room -= n
        }
    }

    mutating func write(_ buffer: ByteBuffer, into out: inout ByteBuffer) {
        buffer.withUnsafeReadableBytes { write($0, into: &out) }
    }

    /// A big-endian integer (PES header fields, start codes).
    mutating func write<T: FixedWidthInteger>(_ value: T, into out: inout ByteBuffer) {
        if room >= MemoryLayout<T>.size {
            out.writeInteger(value)
            room -= MemoryLayout<T>.size
            return
        }
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { write($0, into: &out) }
    }

    /// Up to `maxBytes` written by `body` straight into the output: headers that always fit the
    /// current packet (a PES header and ADTS header or delimiter fit the first one). Should they
    /// not fit, they go through a small buffer and are split like any bytes.
    mutating func writeFitting(_ maxBytes: Int, into out: inout ByteBuffer, _ body: (inout ByteBuffer) -> Void) {
        if room >= maxBytes {
            let before = out.writerIndex
            body(&out)
            room -= out.writerIndex - before
        } else {
            var small = ByteBuffer()
            body(&small)
            write(small, into: &out)
        }
    }

    /// Fills what the declared size still expects with 0xFF, so the output stays packet-aligned
    /// even if fewer bytes were written than declared (never the case when the plan is right).
    /// Returns the bytes filled.
    @discardableResult
    mutating func finish(into out: inout ByteBuffer) -> Int {
        var filled = 0
        while room > 0 || unplaced > 0 {
            if room == 0 { openPacket(unitStart: false, pcrBase: nil, randomAccess: false, into: &out) }
            out.writeRepeatingByte(0xFF, count: room)
            filled += room
            room = 0
        }
        return filled
    }

    private mutating func openPacket(unitStart: Bool, pcrBase: UInt64?, randomAccess: Bool, into out: inout ByteBuffer) {
        cc = (cc &+ 1) & 0x0F
        // Adaptation field bytes (length byte included) before stuffing.
        var fieldBytes = pcrBase != nil || randomAccess ? 2 + (pcrBase == nil ? 0 : 6) : 0
        let payload = min(unplaced, TS.payloadCapacity - fieldBytes)
        let stuffing = TS.payloadCapacity - fieldBytes - payload
        fieldBytes += stuffing
        TS.writeHeader(pid: pid, unitStart: unitStart, adaptation: fieldBytes > 0, cc: cc, into: &out)
        if fieldBytes > 0 {
            out.writeInteger(UInt8(fieldBytes - 1))  // adaptation_field_length: ≤ 183
            if fieldBytes > 1 {
                out.writeInteger(UInt8((randomAccess ? 0x40 : 0) | (pcrBase == nil ? 0 : 0x10)))
                var used = 2
                if let base = pcrBase {
                    let b = base & TS.timestampMask
                    out.writeInteger(UInt32(truncatingIfNeeded: b >> 1))
                    out.writeInteger(UInt16(truncatingIfNeeded: (b & 1) << 15) | 0x7E00)  // reserved 6 bits, extension 0
                    used += 6
                }
                out.writeRepeatingByte(0xFF, count: fieldBytes - used)
            }
        }
        unplaced -= payload
        room = payload
    }
}
