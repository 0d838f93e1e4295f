import NIOCore
import RelayCore

/// The elementary streams a program stream map (0xBC) announces.
public struct PSStreamMap: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var streamType: UInt8
        public var streamID: UInt8
        public init(streamType: UInt8, streamID: UInt8) {
            self.streamType = streamType
            self.streamID = streamID
        }
    }
    public var entries: [Entry]
    public init(entries: [Entry]) { self.entries = entries }
}

/// One syntactic unit of a program stream, as the byte-level parser finds it.
enum PSUnit {
    case pack
    case systemHeader
    case map(PSStreamMap)
    /// A PES of an audio (0xC0-0xDF), video (0xE0-0xEF) or private 1 (0xBD, audio on some
    /// devices) stream begins; raw 33-bit times.
    case pesStart(streamID: UInt8, pts: UInt64?, dts: UInt64?)
    /// Payload bytes of the current PES (a slice of the parser's buffer: copy before the next
    /// `append`).
    case pesData(streamID: UInt8, ByteBuffer)
    case pesEnd(streamID: UInt8)
    /// A stream that is parsed past: private 1 (0xBD) without a valid MPEG-2 PES header,
    /// padding (0xBE), private 2 (0xBF), ECM/EMM/DSM-CC and the rest of 0xF0-0xFF.
    case skipped(streamID: UInt8)
    case end
}

/// Splits a program stream (ISO/IEC 13818-1 §2.5.3, and the MPEG-1 system layer) into units.
///
/// Input arrives in arbitrary pieces (RTP payloads); PES payload is handed out as it arrives,
/// so the parser holds at most one unit header (a PSM is ≤ 64 KiB) plus one piece. It starts by
/// seeking the first system start code and restarts after `resync()` (packet loss) at the next
/// pack header; in sync,
/// structural impossibilities throw, and bytes that are not a start code where one is due are
/// skipped up to `maxGarbage` bytes (zero stuffing some devices add between units).
///
/// Strictly iterative: a false start code (found by seeking, then not a valid unit) steps one
/// byte and seeks on inside `next()`'s loop, never by recursion, so a frame of nothing but false
/// start codes costs linear time and constant stack. Every step consumes input or returns, and
/// a stream map is read for at most `maxMapEntries` entries.
struct PSParser {
    /// What one unit parser concluded.
    private enum Step {
        case unit(PSUnit)
        /// The unit is not complete in the buffer yet.
        case needMore
        /// A false start code was stepped past: seek on.
        case again
    }

    /// ISO/IEC 13818-1 caps a map at 1018 bytes, so at most ~250 entries; more is not a map.
    static let maxMapEntries = 256

    enum State {
        case seek(packOnly: Bool)
        case unit
        case pes(UInt8, Int)
        case pesUnbounded(UInt8)
        case pesEndPending(UInt8)
        case skip(Int)
    }

    /// A stream may begin with any system unit; after a loss, sync is regained at a pack header.
    private(set) var state: State = .seek(packOnly: false)
    private var buffer = ByteBuffer()
    /// Bytes skipped since the last good unit.
    private var garbage = 0
    /// Just found sync by seeking: a malformed unit here is a false start code, not an error.
    private var lenient = true
    let maxGarbage: Int
    private(set) var resyncs = 0

    init(maxGarbage: Int = 256 << 10) {
        self.maxGarbage = maxGarbage
    }

    var bufferedBytes: Int { buffer.readableBytes }

    /// True while the payload of a video PES is still being received.
    var insideVideoPES: Bool {
        switch state {
        case .pes(let id, let remaining): return id >= 0xE0 && id <= 0xEF && remaining > 0
        case .pesUnbounded: return true
        default: return false
        }
    }

    mutating func append(_ data: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = data
            return
        }
        if buffer.readerIndex > 32 << 10 { buffer.discardReadBytes() }
        var data = data
        buffer.writeBuffer(&data)
    }

    /// Forgets partial input and seeks the next pack header (after packet loss).
    mutating func resync() {
        buffer.clear()
        state = .seek(packOnly: true)
        lenient = true
        garbage = 0
        resyncs += 1
    }

    mutating func next() throws -> PSUnit? {
        while true {
            switch state {
            case .seek(let packOnly):
                if let at = findStartCode(from: 0, where: { packOnly ? $0 == 0xBA : $0 >= 0xB9 }) {
                    try skipGarbage(at)
                    state = .unit
                    lenient = true
                } else {
                    try skipGarbage(max(0, buffer.readableBytes - 3))
                    return nil
                }

            case .unit:
                guard buffer.readableBytes >= 4 else { return nil }
                let b0 = byte(0), b1 = byte(1), b2 = byte(2), id = byte(3)
                guard b0 == 0, b1 == 0, b2 == 1, id >= 0xB9 else {
                    if b0 == 0 && !(b1 == 0 && b2 == 1) {
                        try skipGarbage(1)  // zero stuffing between units
                    } else {
                        state = .seek(packOnly: false)
                    }
                    continue
                }
                let step: Step
                switch id {
                case 0xBA:
                    step = try packHeader()
                case 0xB9:
                    buffer.moveReaderIndex(forwardBy: 4)
                    goodUnit()
                    return .end
                case 0xC0...0xEF:
                    step = try pesHeader(id)
                case 0xBD:
                    step = try privateStream1()
                default:
                    guard let length = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt16.self).map(Int.init) else {
                        return nil
                    }
                    if id == 0xBC {
                        guard let body = buffer.getSlice(at: buffer.readerIndex + 6, length: length) else { return nil }
                        let map: PSStreamMap
                        do {
                            map = try Self.parseMap(body)
                        } catch {
                            if lenient { try falseStart(); continue }
                            throw error
                        }
                        buffer.moveReaderIndex(forwardBy: 6 + length)
                        goodUnit()
                        return .map(map)
                    }
                    buffer.moveReaderIndex(forwardBy: 6)
                    state = .skip(length)
                    goodUnit()
                    return id == 0xBB ? .systemHeader : .skipped(streamID: id)
                }
                switch step {
                case .unit(let unit): return unit
                case .needMore: return nil
                case .again: continue
                }

            case .pes(let id, let remaining):
                if remaining == 0 {
                    state = .unit
                    return .pesEnd(streamID: id)
                }
                let n = min(remaining, buffer.readableBytes)
                guard n > 0, let data = buffer.readSlice(length: n) else { return nil }
                state = .pes(id, remaining - n)
                return .pesData(streamID: id, data)

            case .pesUnbounded(let id):
                // Runs to the next system start code (0xB9-0xFF cannot begin a NAL unit: their
                // forbidden_zero_bit is set).
                if let at = findStartCode(from: 0, where: { $0 >= 0xB9 }) {
                    if at == 0 {
                        state = .unit
                        return .pesEnd(streamID: id)
                    }
                    guard let data = buffer.readSlice(length: at) else { return nil }
                    state = .pesEndPending(id)
                    return .pesData(streamID: id, data)
                }
                let n = buffer.readableBytes - 3
                guard n > 0, let data = buffer.readSlice(length: n) else { return nil }
                return .pesData(streamID: id, data)

            case .pesEndPending(let id):
                state = .unit
                return .pesEnd(streamID: id)

            case .skip(let remaining):
                let n = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: n)
                if remaining - n > 0 {
                    state = .skip(remaining - n)
                    return nil
                }
                state = .unit
            }
        }
    }

    // MARK: units

    private mutating func packHeader() throws -> Step {
        guard buffer.readableBytes >= 5 else { return .needMore }
        let b4 = byte(4)
        let length: Int
        if b4 & 0xC0 == 0x40 {
            guard buffer.readableBytes >= 14 else { return .needMore }
            length = 14 + Int(byte(13) & 0x07)
        } else if b4 & 0xF0 == 0x20 {
            length = 12
        } else {
            if lenient { try falseStart(); return .again }
            throw PSError.invalidPackHeader("byte 4 is 0x\(hex(b4)), neither the MPEG-2 ('01') nor the MPEG-1 ('0010') form")
        }
        guard buffer.readableBytes >= length else { return .needMore }
        buffer.moveReaderIndex(forwardBy: length)
        goodUnit()
        return .unit(.pack)
    }

    /// Private stream 1 is read as a PES when its header is a well-formed MPEG-2 one (some
    /// devices carry their audio there; the demuxer decides what it is); anything else there
    /// (Hikvision's private data, say) is skipped by its length, never an error.
    private mutating func privateStream1() throws -> Step {
        guard buffer.readableBytes >= 6,
              let length = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt16.self).map(Int.init) else { return .needMore }
        if length >= 3 {
            guard buffer.readableBytes >= 9 else { return .needMore }
            let flags = byte(7) >> 6
            let dataLength = Int(byte(8))
            let need = flags == 3 ? 10 : (flags == 2 ? 5 : 0)
            if byte(6) & 0xC0 == 0x80, flags != 1, dataLength >= need, 3 + dataLength <= length {
                return try pesHeader(0xBD)
            }
        }
        buffer.moveReaderIndex(forwardBy: 6)
        state = .skip(length)
        goodUnit()
        return .unit(.skipped(streamID: 0xBD))
    }

    private mutating func pesHeader(_ id: UInt8) throws -> Step {
        guard buffer.readableBytes >= 7,
              let length = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt16.self).map(Int.init) else { return .needMore }
        let isVideo = id >= 0xE0
        do {
            if length == 0 && !isVideo { throw PSError.unboundedPES(streamID: id) }
            var pts: UInt64?
            var dts: UInt64?
            let headerEnd: Int  // offset of the payload from the start code
            if byte(6) & 0xC0 == 0x80 {
                // MPEG-2 PES header.
                if length != 0 && length < 3 {
                    throw PSError.impossiblePESLength(streamID: id, length: length, headerLength: 3)
                }
                guard buffer.readableBytes >= 9 else { return .needMore }
                let flags = byte(7) >> 6
                let dataLength = Int(byte(8))
                if length != 0 && 3 + dataLength > length {
                    throw PSError.impossiblePESLength(streamID: id, length: length, headerLength: 3 + dataLength)
                }
                guard buffer.readableBytes >= 9 + dataLength else { return .needMore }
                if flags & 0x02 != 0 {
                    let need = flags == 3 ? 10 : 5
                    guard dataLength >= need else {
                        throw PSError.invalidPESHeader(streamID: id, "PTS\(flags == 3 ? "/DTS" : "") flags set but the header data is \(dataLength) bytes")
                    }
                    pts = timestamp(at: 9)
                    if flags == 3 { dts = timestamp(at: 14) }
                }
                headerEnd = 9 + dataLength
            } else {
                // MPEG-1 (ISO/IEC 11172-1 §2.4.3.3): stuffing, STD buffer, then the time stamps.
                var i = 6
                while true {
                    guard buffer.readableBytes > i else { return .needMore }
                    if byte(i) != 0xFF { break }
                    i += 1
                    if i - 6 > 16 { throw PSError.invalidPESHeader(streamID: id, "more than 16 stuffing bytes") }
                }
                if byte(i) & 0xC0 == 0x40 {
                    i += 2
                    guard buffer.readableBytes > i else { return .needMore }
                }
                let b = byte(i)
                if b & 0xF0 == 0x20 {
                    guard buffer.readableBytes >= i + 5 else { return .needMore }
                    pts = timestamp(at: i)
                    i += 5
                } else if b & 0xF0 == 0x30 {
                    guard buffer.readableBytes >= i + 10 else { return .needMore }
                    pts = timestamp(at: i)
                    dts = timestamp(at: i + 5)
                    i += 10
                } else if b == 0x0F {
                    i += 1
                } else {
                    throw PSError.invalidPESHeader(streamID: id, "byte 0x\(hex(b)) is neither an MPEG-2 header nor an MPEG-1 time stamp field")
                }
                if length != 0 && i - 6 > length {
                    throw PSError.impossiblePESLength(streamID: id, length: length, headerLength: i - 6)
                }
                headerEnd = i
            }
            buffer.moveReaderIndex(forwardBy: headerEnd)
            state = length == 0 ? .pesUnbounded(id) : .pes(id, length - (headerEnd - 6))
            goodUnit()
            return .unit(.pesStart(streamID: id, pts: pts, dts: dts))
        } catch {
            if lenient {
                try falseStart()
                return .again
            }
            throw error
        }
    }

    static func parseMap(_ body: ByteBuffer) throws -> PSStreamMap {
        let n = body.readableBytes
        guard n >= 6 else { throw PSError.invalidPSM("\(n) bytes is too short") }
        let at = body.readerIndex
        guard let infoLength = body.getInteger(at: at + 2, as: UInt16.self).map(Int.init),
              4 + infoLength + 2 <= n,
              let mapLength = body.getInteger(at: at + 4 + infoLength, as: UInt16.self).map(Int.init) else {
            throw PSError.invalidPSM("program_stream_info_length overruns the \(n)-byte map")
        }
        var p = 6 + infoLength
        // Devices miscount the map length or leave out the CRC: read the entries that fit.
        let end = min(p + mapLength, n)
        var entries: [PSStreamMap.Entry] = []
        while p + 4 <= end {
            guard entries.count < maxMapEntries else {
                throw PSError.invalidPSM("more than \(maxMapEntries) elementary stream entries")
            }
            guard let type = body.getInteger(at: at + p, as: UInt8.self),
                  let id = body.getInteger(at: at + p + 1, as: UInt8.self),
                  let infoLen = body.getInteger(at: at + p + 2, as: UInt16.self).map(Int.init) else { break }
            entries.append(.init(streamType: type, streamID: id))
            p += 4 + infoLen
        }
        return PSStreamMap(entries: entries)
    }

    // MARK: helpers

    /// The byte at `offset`; callers check `readableBytes` first (0 past the end, never a trap).
    private func byte(_ offset: Int) -> UInt8 {
        buffer.getInteger(at: buffer.readerIndex + offset, as: UInt8.self) ?? 0
    }

    /// The 33-bit time stamp in the 5-byte PTS/DTS field at `offset` (marker bits not checked:
    /// devices get them wrong).
    private func timestamp(at offset: Int) -> UInt64 {
        guard let b = buffer.getBytes(at: buffer.readerIndex + offset, length: 5) else { return 0 }
        return UInt64(b[0] >> 1 & 0x07) << 30 | UInt64(b[1]) << 22 | UInt64(b[2] >> 1) << 15
            | UInt64(b[3]) << 7 | UInt64(b[4] >> 1)
    }

    private mutating func goodUnit() {
        garbage = 0
        lenient = false
    }

    private mutating func skipGarbage(_ n: Int) throws {
        guard n > 0 else { return }
        buffer.moveReaderIndex(forwardBy: n)
        garbage += n
        if garbage > maxGarbage { throw PSError.noStartCode(skipped: garbage) }
    }

    /// A start code found by seeking led to nonsense: step past it and seek on.
    private mutating func falseStart() throws {
        try skipGarbage(1)
        state = .seek(packOnly: false)
    }

    /// Offset (from the reader index) of the first `00 00 01 xx` with `accept(xx)`.
    private func findStartCode(from start: Int, where accept: (UInt8) -> Bool) -> Int? {
        buffer.withUnsafeReadableBytes { p -> Int? in
            var i = start
            while let at = AnnexB.findStartCode(in: p, from: i), at + 3 < p.count {
                if accept(p[at + 3]) { return at }
                i = at + 3
            }
            return nil
        }
    }
}
