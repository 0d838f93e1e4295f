import NIOCore

/// One packet of a compound RTCP packet, as the WebRTC sessions act on it.
public enum RTCPFeedback: Sendable, Equatable {
    /// Generic NACK (RTPFB fmt 1): the lost sequence numbers (PID + BLP expanded, in order, at most 1024 per compound).
    case nack(sender: UInt32, media: UInt32, sequences: [UInt16])
    /// Picture loss indication (PSFB fmt 1).
    case pli(sender: UInt32, media: UInt32)
    /// Full intra request (PSFB fmt 4), one per FCI entry.
    case fir(sender: UInt32, media: UInt32, sequence: UInt8)
    /// Receiver estimated max bitrate (PSFB fmt 15, "REMB").
    case remb(sender: UInt32, bitrate: UInt64, ssrcs: [UInt32])
}

/// RTCP feedback (RFC 4585 §6, FIR from RFC 5104 §4.3.1, REMB from draft-alvestrand-rmcat-remb).
/// The writers write one feedback packet; unless rtcp-rsize (RFC 5506) was negotiated, the
/// caller puts a report (`writeReceiverReport`) in front to make it a compound packet.
extension RTCP {
    /// Transport layer feedback (RTPFB).
    public static let transportFeedback: UInt8 = 205
    /// Payload-specific feedback (PSFB).
    public static let payloadFeedback: UInt8 = 206

    static let nackFormat = 1, pliFormat = 1, firFormat = 4, applicationFormat = 15
    /// Packets read of one compound at most: a real one has a handful.
    static let maxFeedbackPackets = 64
    /// Lost sequence numbers read of one compound at most (64 full NACK words is 1088).
    static let maxNACKSequences = 1024
    static let rembIdentifier: UInt32 = 0x5245_4D42  // "REMB"

    /// The feedback messages of a compound (or reduced-size, RFC 5506) RTCP packet; other packet types skipped; malformed -> what was read before it, never a trap; iterative; at most 64 packets per compound.
    public static func feedback(in compound: ByteBuffer) -> [RTCPFeedback] {
        var out: [RTCPFeedback] = []
        var nacks = 0
        var packets = RTCPCompound(compound, limit: maxFeedbackPackets)
        while let packet = packets.next() {
            guard packet.type == transportFeedback || packet.type == payloadFeedback else { continue }
            // Sender SSRC and media SSRC come first in every feedback message (§6.1).
            guard let body = packet.body, body.count >= 8,
                  let sender = compound.getInteger(at: body.lowerBound, as: UInt32.self),
                  let media = compound.getInteger(at: body.lowerBound + 4, as: UInt32.self) else { return out }
            let fci = body.lowerBound + 8 ..< body.upperBound
            switch (packet.type, packet.count) {
            case (transportFeedback, nackFormat):
                guard fci.count % 4 == 0 else { return out }
                var sequences: [UInt16] = []
                var at = fci.lowerBound
                while at < fci.upperBound, nacks < maxNACKSequences,
                      let pid = compound.getInteger(at: at, as: UInt16.self),
                      let blp = compound.getInteger(at: at + 2, as: UInt16.self) {
                    // PID lost, and PID+i+1 for every bit i of the bitmask of following lost packets.
                    sequences.append(pid)
                    nacks += 1
                    var bit = 0
                    while bit < 16, nacks < maxNACKSequences {
                        if blp & (1 << bit) != 0 {
                            sequences.append(pid &+ UInt16(bit + 1))
                            nacks += 1
                        }
                        bit += 1
                    }
                    at += 4
                }
                if !sequences.isEmpty { out.append(.nack(sender: sender, media: media, sequences: sequences)) }
            case (payloadFeedback, pliFormat):
                out.append(.pli(sender: sender, media: media))
            case (payloadFeedback, firFormat):
                // FCI entries: SSRC of the sender asked for a key frame, command sequence, 3 reserved.
                guard fci.count % 8 == 0 else { return out }
                for at in stride(from: fci.lowerBound, to: fci.upperBound, by: 8) {
                    guard let target = compound.getInteger(at: at, as: UInt32.self),
                          let sequence = compound.getInteger(at: at + 4, as: UInt8.self) else { return out }
                    out.append(.fir(sender: sender, media: target, sequence: sequence))
                }
            case (payloadFeedback, applicationFormat):
                guard fci.count >= 8, compound.getInteger(at: fci.lowerBound, as: UInt32.self) == rembIdentifier,
                      let word = compound.getInteger(at: fci.lowerBound + 4, as: UInt32.self) else { continue }
                let count = Int(word >> 24)
                guard fci.count >= 8 + 4 * count else { return out }
                let ssrcs = (0..<count).compactMap { compound.getInteger(at: fci.lowerBound + 8 + 4 * $0, as: UInt32.self) }
                out.append(.remb(sender: sender, bitrate: rembBitrate(word), ssrcs: ssrcs))
            default:
                continue  // TWCC, TMMBR, SLI, RPSI …: not acted on
            }
        }
        return out
    }

    /// Mantissa (18 bits) << exponent (6 bits), saturating: exponents up to 63 do not fit 64 bits.
    static func rembBitrate(_ word: UInt32) -> UInt64 {
        let exponent = Int(word >> 18 & 0x3F)
        let mantissa = UInt64(word & 0x3_FFFF)
        guard mantissa != 0 else { return 0 }
        return mantissa.leadingZeroBitCount >= exponent ? mantissa << exponent : .max
    }

    /// Generic NACK: runs of lost sequence numbers packed into PID/BLP pairs (a number within 16
    /// after the open pair's PID joins it); at most 1024 numbers; nothing written for none.
    public static func writeNACK(sender: UInt32, media: UInt32, sequences: [UInt16], into buffer: inout ByteBuffer) {
        guard !sequences.isEmpty else { return }
        let start = buffer.writerIndex
        writeFeedbackHeader(type: transportFeedback, format: nackFormat, words: 2, sender: sender, media: media, into: &buffer)
        var pairs = 0
        var pid = sequences[0], blp: UInt16 = 0
        for sequence in sequences.prefix(maxNACKSequences).dropFirst() {
            let distance = sequence &- pid
            if distance == 0 { continue }
            if distance <= 16 {
                blp |= 1 << (distance - 1)
            } else {
                buffer.writeMultipleIntegers(pid, blp)
                pairs += 1
                (pid, blp) = (sequence, 0)
            }
        }
        buffer.writeMultipleIntegers(pid, blp)
        pairs += 1
        buffer.setInteger(UInt16(truncatingIfNeeded: 2 + pairs), at: start + 2)
    }

    /// Picture loss indication: the sender of `media` is asked for a key frame.
    public static func writePLI(sender: UInt32, media: UInt32, into buffer: inout ByteBuffer) {
        writeFeedbackHeader(type: payloadFeedback, format: pliFormat, words: 2, sender: sender, media: media, into: &buffer)
    }

    /// Full intra request for `media` (one FCI entry; the header's media SSRC is 0, RFC 5104 §4.3.1.2).
    public static func writeFIR(sender: UInt32, media: UInt32, sequence: UInt8, into buffer: inout ByteBuffer) {
        writeFeedbackHeader(type: payloadFeedback, format: firFormat, words: 4, sender: sender, media: 0, into: &buffer)
        buffer.writeMultipleIntegers(media, sequence, UInt8(0), UInt16(0))
    }

    /// REMB: `bitrate` as an 18-bit mantissa and 6-bit exponent (rounded down), for at most 255 SSRCs.
    public static func writeREMB(sender: UInt32, bitrate: UInt64, ssrcs: [UInt32], into buffer: inout ByteBuffer) {
        let ssrcs = ssrcs.prefix(255)
        var exponent: UInt32 = 0
        while bitrate >> exponent > 0x3_FFFF { exponent += 1 }
        let mantissa = UInt32(truncatingIfNeeded: bitrate >> exponent)
        writeFeedbackHeader(type: payloadFeedback, format: applicationFormat, words: 4 + ssrcs.count,
                            sender: sender, media: 0, into: &buffer)
        buffer.writeMultipleIntegers(rembIdentifier, UInt32(ssrcs.count) << 24 | exponent << 18 | mantissa)
        for ssrc in ssrcs { buffer.writeInteger(ssrc) }
    }

    /// Common feedback header (§6.1); `words` counts the 32-bit words after the first.
    private static func writeFeedbackHeader(type: UInt8, format: Int, words: Int, sender: UInt32, media: UInt32,
                                            into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(UInt8(0x80 | UInt8(format & 0x1F)), type, UInt16(truncatingIfNeeded: words), sender, media)
    }
}
