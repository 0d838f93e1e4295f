import Foundation
import NIOCore

/// RTCP (RFC 3550 §6): the sender and receiver reports the server sends, and reading the
/// reports peers send (`RTCPReport`, in RTCPReport.swift).
public enum RTCP {
    public static let senderReport: UInt8 = 200
    public static let receiverReport: UInt8 = 201
    public static let sourceDescription: UInt8 = 202
    public static let bye: UInt8 = 203

    static let cname = Array("liverelay".utf8)

    /// A sender report followed by an SDES CNAME, as one compound packet (§6.1: every compound
    /// packet carries a CNAME). The SR maps `rtpTime` to wall-clock `ntp` so players can
    /// synchronize tracks.
    public static func writeSenderReport(ssrc: UInt32, ntp: UInt64, rtpTime: UInt32, packets: UInt32, octets: UInt32,
                                         into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0x80))
        buffer.writeInteger(senderReport)
        buffer.writeInteger(UInt16(6))  // length in 32-bit words minus one
        buffer.writeInteger(ssrc)
        buffer.writeInteger(ntp)
        buffer.writeInteger(rtpTime)
        buffer.writeInteger(packets)
        buffer.writeInteger(octets)
        writeCNAME(ssrc: ssrc, into: &buffer)
    }

    /// A receiver report with one report block per source heard (at most 31, §6.4.2), followed
    /// by an SDES CNAME, as one compound packet.
    public static func writeReceiverReport(ssrc: UInt32, blocks: [RTCPReportBlock], into buffer: inout ByteBuffer) {
        let blocks = blocks.prefix(31)
        buffer.writeInteger(UInt8(0x80 | UInt8(blocks.count)))
        buffer.writeInteger(receiverReport)
        buffer.writeInteger(UInt16(1 + 6 * blocks.count))
        buffer.writeInteger(ssrc)
        for block in blocks { block.write(into: &buffer) }
        writeCNAME(ssrc: ssrc, into: &buffer)
    }

    /// BYE for a source that ends (§6.6), with a CNAME in front as §6.1 asks.
    public static func writeBye(ssrc: UInt32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0x80))
        buffer.writeInteger(receiverReport)
        buffer.writeInteger(UInt16(1))  // an empty RR heads the compound packet
        buffer.writeInteger(ssrc)
        writeCNAME(ssrc: ssrc, into: &buffer)
        buffer.writeInteger(UInt8(0x81))
        buffer.writeInteger(bye)
        buffer.writeInteger(UInt16(1))
        buffer.writeInteger(ssrc)
    }

    private static func writeCNAME(ssrc: UInt32, into buffer: inout ByteBuffer) {
        // SSRC, item type 1, length, text, then at least one zero octet padding to 32 bits.
        let itemBytes = 2 + cname.count
        let chunk = 4 + itemBytes
        let padded = (chunk + 1 + 3) & ~3
        buffer.writeInteger(UInt8(0x81))
        buffer.writeInteger(sourceDescription)
        buffer.writeInteger(UInt16(padded / 4))
        buffer.writeInteger(ssrc)
        buffer.writeInteger(UInt8(1))
        buffer.writeInteger(UInt8(cname.count))
        buffer.writeBytes(cname)
        buffer.writeRepeatingByte(0, count: padded - chunk)
    }

    /// Microseconds since 1970 as a 64-bit NTP timestamp (seconds since 1900, 32.32 fixed point).
    public static func ntp(unixMicros: Int64) -> UInt64 {
        let seconds = UInt64(unixMicros / 1_000_000) + 2_208_988_800
        let fraction = (UInt64(unixMicros % 1_000_000) << 32) / 1_000_000
        return seconds << 32 | fraction
    }

    /// Wall clock, µs since 1970 (the NTP side of sender reports).
    public static func nowMicros() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1_000_000)
    }
}
