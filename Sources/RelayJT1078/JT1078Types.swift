import NIOCore
import RelayCore

/// The two header layouts of JT/T 1078 (table 19): they differ only in the SIM field, 6 BCD bytes
/// (12 digits) in 2016 and 10 BCD bytes (20 digits) in 2019.
public enum JT1078Version: Int, Sendable, Hashable, CustomStringConvertible {
    case v2016 = 2016
    case v2019 = 2019

    public var simBytes: Int { self == .v2016 ? 6 : 10 }
    public var simDigits: Int { simBytes * 2 }
    public var description: String { "JT/T 1078-\(rawValue)" }

    /// "2016" / "2019" (config values, command-line options).
    public init?(name: String) {
        switch name {
        case "2016": self = .v2016
        case "2019": self = .v2019
        default: return nil
        }
    }
}

/// Data type, the high nibble of byte 15 (2016) / 19 (2019).
public enum JT1078DataType: UInt8, Sendable, Hashable, CustomStringConvertible {
    case iFrame = 0
    case pFrame = 1
    case bFrame = 2
    case audio = 3
    /// Transparent data (serial-port passthrough): no timestamp, no intervals; the relay ignores it.
    case transparent = 4

    public var isVideo: Bool { rawValue <= 2 }
    public var description: String {
        switch self {
        case .iFrame: return "I frame"
        case .pFrame: return "P frame"
        case .bFrame: return "B frame"
        case .audio: return "audio"
        case .transparent: return "transparent data"
        }
    }
}

/// Sub-package mark, the low nibble of the data-type byte.
public enum JT1078Subpackage: UInt8, Sendable, Hashable, CustomStringConvertible {
    case atomic = 0
    case first = 1
    case last = 2
    case middle = 3

    /// The mark says the frame ends with this package.
    public var endsFrame: Bool { self == .atomic || self == .last }
    /// The mark says the frame continues from an earlier package.
    public var continuesFrame: Bool { self == .middle || self == .last }
    public var description: String {
        switch self {
        case .atomic: return "atomic"
        case .first: return "first"
        case .last: return "last"
        case .middle: return "middle"
        }
    }
}

/// RTP payload types of JT/T 1078 table 12 that the relay carries.
public enum JT1078PayloadType {
    public static let g711a: UInt8 = 6
    public static let g711u: UInt8 = 7
    /// ITU-T G.726 ADPCM, 16…40 kb/s (the rate is not in the packet).
    public static let g726: UInt8 = 8
    public static let aac: UInt8 = 19
    /// "ADPCMA": IMA ADPCM in blocks with a 4-byte state header.
    public static let adpcm: UInt8 = 26
    public static let h264: UInt8 = 98
    public static let h265: UInt8 = 99

    /// The relay codec of a payload type, nil when unsupported (AVS, SVAC, G.729 …). G.726 and
    /// IMA ADPCM arrive transcoded to G.711 A-law, which every player takes.
    public static func codec(_ pt: UInt8) -> CodecID? {
        switch pt {
        case h264: return .h264
        case h265: return .h265
        case g711a, g726, adpcm: return .g711a
        case g711u: return .g711u
        case aac: return .aac
        default: return nil
        }
    }

    /// A readable name for log lines, including the types the relay does not carry.
    public static func name(_ pt: UInt8) -> String {
        let names: [UInt8: String] = [
            1: "G.721", 2: "G.722", 3: "G.723", 4: "G.728", 5: "G.729", 6: "G.711A", 7: "G.711U", 8: "G.726",
            9: "G.729A", 10: "DVI4_3", 11: "DVI4_4", 12: "DVI4_8K", 13: "DVI4_16K", 14: "LPC", 15: "S16BE_STEREO",
            16: "S16BE_MONO", 17: "MPEGAUDIO", 18: "LPCM", 19: "AAC", 20: "WMA9STD", 21: "HEAAC", 22: "PCM_VOICE",
            23: "PCM_AUDIO", 24: "AACLC", 25: "MP3", 26: "ADPCMA", 27: "MP4AUDIO", 28: "AMR",
            98: "H.264", 99: "H.265", 100: "AVS", 101: "SVAC",
        ]
        return "\(pt) (\(names[pt] ?? "unknown"))"
    }
}

/// One JT/T 1078 package (a "frame" on the wire: header + at most 950 body bytes).
public struct JT1078Packet: Sendable, Equatable {
    public var version: JT1078Version
    /// The V/P/X/CC byte as sent (normally 0x81).
    public var vpxcc: UInt8
    public var marker: Bool
    public var payloadType: UInt8
    public var sequence: UInt16
    /// The SIM number's BCD digits as sent (12 in 2016, 20 in 2019, leading zeros included).
    public var sim: String
    public var channel: UInt8
    public var dataType: JT1078DataType
    public var subpackage: JT1078Subpackage
    /// Milliseconds; nil for transparent data.
    public var timestamp: UInt64?
    /// Video only (often wrong on real terminals; the relay does not use them).
    public var lastIFrameInterval: UInt16?
    public var lastFrameInterval: UInt16?
    /// A slice of the receive buffer.
    public var body: ByteBuffer
    /// Bytes dropped just before this package while resynchronising (garbage, invalid headers,
    /// a package whose length ran into the next one).
    public var discardedBefore: Int

    public init(version: JT1078Version, vpxcc: UInt8 = 0x81, marker: Bool, payloadType: UInt8, sequence: UInt16,
                sim: String, channel: UInt8, dataType: JT1078DataType, subpackage: JT1078Subpackage,
                timestamp: UInt64?, lastIFrameInterval: UInt16? = nil, lastFrameInterval: UInt16? = nil,
                body: ByteBuffer, discardedBefore: Int = 0) {
        self.version = version
        self.vpxcc = vpxcc
        self.marker = marker
        self.payloadType = payloadType
        self.sequence = sequence
        self.sim = sim
        self.channel = channel
        self.dataType = dataType
        self.subpackage = subpackage
        self.timestamp = timestamp
        self.lastIFrameInterval = lastIFrameInterval
        self.lastFrameInterval = lastFrameInterval
        self.body = body
        self.discardedBefore = discardedBefore
    }
}

/// Header layout: offsets and lengths for each version and data type.
public enum JT1078Header {
    /// `30 31 63 64` ("01cd").
    public static let magic: UInt32 = 0x3031_6364
    /// The standard's limit on one package's body.
    public static let maxBodyBytes = 950

    /// Bytes before the body: 30 (video) / 26 (audio) / 18 (transparent) in 2016, 4 more in 2019.
    public static func length(_ version: JT1078Version, _ type: JT1078DataType) -> Int {
        let base = 8 + version.simBytes + 2  // magic, V/P/X/CC, M/PT, sequence; SIM; channel, type
        switch type {
        case .transparent: return base + 2
        case .audio: return base + 8 + 2
        case .iFrame, .pFrame, .bFrame: return base + 8 + 4 + 2
        }
    }

    /// The largest header (2019 video).
    public static let maxLength = 34

    public enum Parse: Equatable {
        case needMore
        case invalid(String)
        /// A well-formed header; the package spans `total` bytes from its start.
        case valid(headerLength: Int, total: Int)
    }

    /// Checks the header starting at absolute index `at` (the magic already found there) without
    /// consuming anything: BCD SIM digits, data type 0…4, sub-package mark 0…3, body length within
    /// `maxBody`. A header can only turn out invalid from the bytes it has, so the answer for a
    /// given input does not depend on how it was split across reads.
    public static func parse(_ buffer: ByteBuffer, at: Int, version: JT1078Version, maxBody: Int) -> Parse {
        let available = buffer.writerIndex - at
        let simEnd = 8 + version.simBytes
        guard available >= simEnd + 2 else { return .needMore }
        for i in 8..<simEnd {
            guard let b = buffer.getInteger(at: at + i, as: UInt8.self) else { return .needMore }
            if b >> 4 > 9 || b & 0x0F > 9 { return .invalid("SIM byte \(i - 8) is not BCD (0x\(String(b, radix: 16)))") }
        }
        guard let typeByte = buffer.getInteger(at: at + simEnd + 1, as: UInt8.self) else { return .needMore }
        guard let type = JT1078DataType(rawValue: typeByte >> 4) else { return .invalid("data type \(typeByte >> 4)") }
        guard JT1078Subpackage(rawValue: typeByte & 0x0F) != nil else { return .invalid("sub-package mark \(typeByte & 0x0F)") }
        let headerLength = length(version, type)
        guard available >= headerLength,
              let bodyLength = buffer.getInteger(at: at + headerLength - 2, as: UInt16.self).map(Int.init) else { return .needMore }
        guard bodyLength <= maxBody else { return .invalid("body length \(bodyLength) > \(maxBody)") }
        return .valid(headerLength: headerLength, total: headerLength + bodyLength)
    }

    /// Reads a package whose header `parse` found valid and whose bytes are all in `buffer`
    /// (so every field is there; the fallbacks below only keep this free of force unwraps).
    static func read(_ buffer: inout ByteBuffer, version: JT1078Version, headerLength: Int, total: Int,
                     discardedBefore: Int) -> JT1078Packet {
        let start = buffer.readerIndex
        let vpxcc = buffer.getInteger(at: start + 4, as: UInt8.self) ?? 0
        let mpt = buffer.getInteger(at: start + 5, as: UInt8.self) ?? 0
        let sequence = buffer.getInteger(at: start + 6, as: UInt16.self) ?? 0
        let sim = bcdDigits(buffer, at: start + 8, count: version.simBytes)
        let simEnd = start + 8 + version.simBytes
        let channel = buffer.getInteger(at: simEnd, as: UInt8.self) ?? 0
        let typeByte = buffer.getInteger(at: simEnd + 1, as: UInt8.self) ?? 0x40
        let type = JT1078DataType(rawValue: typeByte >> 4) ?? .transparent
        var timestamp: UInt64?
        var lastI: UInt16?
        var last: UInt16?
        if type != .transparent {
            timestamp = buffer.getInteger(at: simEnd + 2, as: UInt64.self)
            if type.isVideo {
                lastI = buffer.getInteger(at: simEnd + 10, as: UInt16.self)
                last = buffer.getInteger(at: simEnd + 12, as: UInt16.self)
            }
        }
        let body = buffer.getSlice(at: start + headerLength, length: total - headerLength) ?? ByteBuffer()
        buffer.moveReaderIndex(forwardBy: min(total, buffer.readableBytes))
        return JT1078Packet(version: version, vpxcc: vpxcc, marker: mpt & 0x80 != 0, payloadType: mpt & 0x7F,
                            sequence: sequence, sim: sim, channel: channel, dataType: type,
                            subpackage: JT1078Subpackage(rawValue: typeByte & 0x0F) ?? .atomic, timestamp: timestamp,
                            lastIFrameInterval: lastI, lastFrameInterval: last, body: body,
                            discardedBefore: discardedBefore)
    }

    static func bcdDigits(_ buffer: ByteBuffer, at: Int, count: Int) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(count * 2)
        for i in 0..<count {
            let b = buffer.getInteger(at: at + i, as: UInt8.self) ?? 0
            digits.append(0x30 + (b >> 4))
            digits.append(0x30 + (b & 0x0F))
        }
        return String(decoding: digits, as: UTF8.self)
    }
}

/// Stream ids of JT/T 1078 terminals: `{sim}/{channel}`.
public enum JT1078StreamID {
    /// `sim` as the BCD digits arrived; with `stripLeadingZeros` the padding goes ("013912345678" →
    /// "13912345678"; all zeros → "0"), so a terminal gets the same id in both layouts.
    public static func make(sim: String, channel: UInt8, stripLeadingZeros: Bool) -> String {
        var digits = Substring(sim)
        if stripLeadingZeros {
            digits = digits.drop { $0 == "0" }
            if digits.isEmpty { digits = "0" }
        }
        return "\(digits)/\(channel)"
    }
}
