import NIOCore

/// Writes JT/T 1078 packages: a terminal's side (the `jt-send` bench tool, tests).
public struct JT1078Packetizer: Sendable {
    public enum Marks: String, Sendable, CaseIterable {
        /// atomic / first, middle…, last, as the standard says.
        case correct
        /// Every package marked atomic, as some terminals do (the receiver must reassemble by
        /// timestamp and payload type).
        case allAtomic = "all-atomic"
    }

    public let version: JT1078Version
    public let channel: UInt8
    /// SIM digits, left-padded with zeros to the layout's width.
    public let sim: String
    private let simBCD: [UInt8]
    public var maxBody: Int
    public var sequence: UInt16
    public var marks: Marks
    private var lastIFrame: UInt64?
    private var lastVideoFrame: UInt64?

    public struct BadSIM: Error, CustomStringConvertible {
        public let description: String
    }

    /// `sim`: up to 12 (2016) or 20 (2019) decimal digits.
    public init(version: JT1078Version, sim: String, channel: UInt8, maxBody: Int = JT1078Header.maxBodyBytes,
                sequence: UInt16 = 0, marks: Marks = .correct) throws {
        guard !sim.isEmpty, sim.count <= version.simDigits, sim.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw BadSIM(description: "SIM '\(sim)' must be 1…\(version.simDigits) decimal digits for \(version)")
        }
        let padded = String(repeating: "0", count: version.simDigits - sim.count) + sim
        let digits = padded.utf8.map { $0 - 0x30 }
        var bcd: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) { bcd.append(digits[i] << 4 | digits[i + 1]) }
        self.version = version
        self.channel = channel
        self.sim = padded
        self.simBCD = bcd
        self.maxBody = min(max(maxBody, 1), 0xFFFF)  // the body length is a 16-bit field
        self.sequence = sequence
        self.marks = marks
    }

    /// Splits one frame into packages of at most `maxBody` bytes and appends them to `out`;
    /// returns how many. Video frames carry the two interval fields (ms since the last I frame
    /// and since the last frame).
    @discardableResult
    public mutating func packetize(_ frame: ByteBuffer, payloadType: UInt8, dataType: JT1078DataType,
                                   timestamp: UInt64, into out: inout ByteBuffer) -> Int {
        var lastI: UInt16 = 0
        var lastFrame: UInt16 = 0
        if dataType.isVideo {
            if dataType == .iFrame { lastIFrame = timestamp }
            lastI = UInt16(clamping: timestamp &- (lastIFrame ?? timestamp))
            lastFrame = UInt16(clamping: timestamp &- (lastVideoFrame ?? timestamp))
            lastVideoFrame = timestamp
        }
        var rest = frame
        let count = max(1, (frame.readableBytes + maxBody - 1) / maxBody)
        out.reserveCapacity(out.writerIndex + frame.readableBytes + count * JT1078Header.maxLength)
        for i in 0..<count {
            let body = rest.readSlice(length: min(maxBody, rest.readableBytes)) ?? ByteBuffer()
            let mark: JT1078Subpackage
            if count == 1 || marks == .allAtomic {
                mark = .atomic
            } else {
                mark = i == 0 ? .first : (i == count - 1 ? .last : .middle)
            }
            write(body, marker: i == count - 1, payloadType: payloadType, dataType: dataType, mark: mark,
                  timestamp: timestamp, lastIFrameInterval: lastI, lastFrameInterval: lastFrame, into: &out)
        }
        return count
    }

    /// Appends one package exactly as given (tests use it to write wrong marks and lengths).
    public mutating func write(_ body: ByteBuffer, marker: Bool, payloadType: UInt8, dataType: JT1078DataType,
                               mark: JT1078Subpackage, timestamp: UInt64, lastIFrameInterval: UInt16 = 0,
                               lastFrameInterval: UInt16 = 0, bodyLength: Int? = nil, into out: inout ByteBuffer) {
        out.writeInteger(JT1078Header.magic)
        out.writeInteger(UInt8(0x81))  // V=2, P=0, X=0, CC=1
        out.writeInteger((marker ? 0x80 : 0) | payloadType & 0x7F)
        out.writeInteger(sequence)
        sequence &+= 1
        out.writeBytes(simBCD)
        out.writeInteger(channel)
        out.writeInteger(dataType.rawValue << 4 | mark.rawValue)
        if dataType != .transparent {
            out.writeInteger(timestamp)
            if dataType.isVideo {
                out.writeInteger(lastIFrameInterval)
                out.writeInteger(lastFrameInterval)
            }
        }
        out.writeInteger(UInt16(truncatingIfNeeded: bodyLength ?? body.readableBytes))
        out.writeImmutableBuffer(body)
    }
}

/// The 4-byte header HiSilicon encoders put before each audio frame: `00 01 xx 00`, `xx` the
/// frame's length in 16-bit words.
public enum HiSiliconAudioHeader {
    /// The header for a frame of `length` bytes.
    public static func make(length: Int) -> [UInt8] {
        [0x00, 0x01, UInt8(truncatingIfNeeded: length / 2), 0x00]
    }

    /// Whether `body` starts with the header. Only the fixed bytes are checked: terminals do not
    /// agree on what `xx` counts, and a real G.711/AAC frame does not start with `00 01 ?? 00`
    /// (A-law and µ-law silence are D5 / FF, ADTS starts FF F1).
    public static func isPresent(in body: ByteBuffer) -> Bool {
        guard body.readableBytes > 4, let b = body.getBytes(at: body.readerIndex, length: 4) else { return false }
        return b[0] == 0x00 && b[1] == 0x01 && b[3] == 0x00
    }
}
