import NIOCore
import RelayCore

/// The program-specific information of the one program the muxer writes: PAT and PMT
/// (ISO/IEC 13818-1 2.4.4), each a single transport packet.
struct TSProgramTables {
    struct Entry: Equatable {
        var streamType: UInt8
        var pid: UInt16
    }

    private(set) var entries: [Entry] = []
    private(set) var pcrPID = TS.nullPID
    /// version_number of the PMT: a new track layout is a new version.
    private(set) var version: UInt8 = 0
    private var patCC: UInt8 = 0x0F
    private var pmtCC: UInt8 = 0x0F

    static let programNumber: UInt16 = 1
    static let transportStreamID: UInt16 = 1

    mutating func update(entries: [Entry], pcrPID: UInt16) {
        guard entries != self.entries || pcrPID != self.pcrPID else { return }
        if !self.entries.isEmpty || self.pcrPID != TS.nullPID { version = (version &+ 1) & 0x1F }
        self.entries = entries
        self.pcrPID = pcrPID
    }

    /// PAT then PMT, 376 bytes.
    mutating func write(into out: inout ByteBuffer) {
        patCC = (patCC &+ 1) & 0x0F
        writeSection(pid: TS.patPID, cc: patCC, into: &out) { out in
            out.writeInteger(UInt8(0x00))  // table_id: program_association_section
            out.writeInteger(UInt16(0xB000 | 13))  // syntax 1, '0', reserved, section_length
            out.writeInteger(Self.transportStreamID)
            out.writeInteger(UInt8(0xC1))  // reserved, version 0, current_next 1
            out.writeInteger(UInt16(0))  // section_number, last_section_number
            out.writeInteger(Self.programNumber)
            out.writeInteger(UInt16(0xE000 | TS.pmtPID))
        }
        pmtCC = (pmtCC &+ 1) & 0x0F
        writeSection(pid: TS.pmtPID, cc: pmtCC, into: &out) { out in
            out.writeInteger(UInt8(0x02))  // table_id: TS_program_map_section
            out.writeInteger(UInt16(0xB000 | UInt16(13 + 5 * entries.count)))
            out.writeInteger(Self.programNumber)
            out.writeInteger(UInt8(0xC1 | (version & 0x1F) << 1))
            out.writeInteger(UInt16(0))
            out.writeInteger(UInt16(0xE000 | pcrPID))
            out.writeInteger(UInt16(0xF000))  // program_info_length 0
            for e in entries {
                out.writeInteger(e.streamType)
                out.writeInteger(UInt16(0xE000 | e.pid))
                out.writeInteger(UInt16(0xF000))  // ES_info_length 0
            }
        }
    }

    /// One packet: header, pointer_field, the section and its CRC_32, 0xFF up to 188 bytes.
    private func writeSection(pid: UInt16, cc: UInt8, into out: inout ByteBuffer, body: (inout ByteBuffer) -> Void) {
        let packetStart = out.writerIndex
        TS.writeHeader(pid: pid, unitStart: true, adaptation: false, cc: cc, into: &out)
        out.writeInteger(UInt8(0))  // pointer_field
        let sectionStart = out.writerIndex
        body(&out)
        let crc = out.withUnsafeReadableBytes { bytes in
            MPEG2Systems.crc32(UnsafeRawBufferPointer(rebasing: bytes[(sectionStart - out.readerIndex)...]))
        }
        out.writeInteger(crc)
        out.writeRepeatingByte(0xFF, count: max(0, TS.packetSize - (out.writerIndex - packetStart)))
    }
}
