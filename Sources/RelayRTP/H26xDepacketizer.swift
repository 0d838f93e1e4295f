import NIOCore

/// H.264 (RFC 6184: single NAL unit, STAP-A, FU-A) and H.265 (RFC 7798: single, AP, FU; no
/// DONL, i.e. sprop-max-don-diff 0) payloads back into access units of 4-byte length-prefixed
/// NAL units. A unit ends at the marker bit or when the timestamp changes.
///
/// Loss: a sequence gap inside a unit drops that unit; after a gap at a unit boundary the next
/// unit is kept only if its first packet surely starts one (a delimiter, the first parameter
/// set: SPS / VPS, or the picture's first slice), so a unit that lost its beginning is not
/// delivered either. An FU continuation without its start is discarded with its unit.
public struct H26xDepacketizer: RTPDepacketizer {
    public typealias Codec = NALPacketizer.Codec

    /// The latest in-band parameter sets of each kind (VPS is H.265 only), for building the
    /// stream's configuration.
    public struct ParameterSets: Sendable, Equatable {
        public var vps: ByteBuffer?
        public var sps: ByteBuffer?
        public var pps: ByteBuffer?
    }

    public let codec: Codec
    public let maxAccessUnitBytes: Int
    public private(set) var stats = RTPDepacketizerStats()
    public private(set) var parameterSets = ParameterSets()

    private var sequence = RTPSequenceCheck()
    private var unwrapper = TimestampUnwrapper(bits: 32)
    private var inProgress = false
    private var unit = ByteBuffer()
    private var unitTimestamp: UInt32 = 0
    private var corrupt = false
    private var key = false
    private var changed = false
    private var nalCount = 0
    /// Where the length prefix of the fragmented NAL unit being rebuilt lies in `unit`.
    private var fragmentAt: Int?

    /// `maxAccessUnitBytes` below 1 KiB is raised to it.
    public init(codec: Codec, maxAccessUnitBytes: Int = RTPAccessUnit.defaultMaxBytes) {
        self.codec = codec
        self.maxAccessUnitBytes = max(maxAccessUnitBytes, 1024)
    }

    public mutating func push(_ packet: RTPPacket, emit: (RTPAccessUnit) throws -> Void) rethrows {
        guard let gap = sequence.admit(packet.sequence, counting: &stats) else { return }
        if inProgress {
            if gap { markCorrupt() }  // the unit lost a packet (or at least its marker)
            if packet.timestamp != unitTimestamp { try finish(emit: emit) }
        }
        if !inProgress {
            inProgress = true
            unitTimestamp = packet.timestamp
            corrupt = gap && !canStartPicture(packet.payload)
            key = false
            nalCount = 0
            fragmentAt = nil
        }
        if !corrupt && !append(packet.payload) && !corrupt {  // (an oversize unit is already counted)
            stats.malformedPackets &+= 1
            markCorrupt()
        }
        if packet.marker { try finish(emit: emit) }
    }

    public mutating func flush(emit: (RTPAccessUnit) throws -> Void) rethrows {
        try finish(emit: emit)
    }

    private mutating func markCorrupt() {
        corrupt = true
        unit = ByteBuffer()  // release what was gathered
        fragmentAt = nil
    }

    private mutating func finish(emit: (RTPAccessUnit) throws -> Void) rethrows {
        guard inProgress else { return }
        inProgress = false
        let time = unwrapper.unwrap(UInt64(unitTimestamp))
        if fragmentAt != nil { markCorrupt() }  // an FU without its end
        let payload = unit
        unit = ByteBuffer()
        guard !corrupt, payload.readableBytes > 0 else {
            stats.droppedAccessUnits &+= 1
            return
        }
        stats.accessUnits &+= 1
        let reportChange = changed
        changed = false  // a change seen in a dropped unit is reported with the next one delivered
        try emit(RTPAccessUnit(payload: payload, rtpTime: time, isKeyFrame: key, parameterSetsChanged: reportChange))
    }

    // MARK: payload formats

    /// Appends the packet's NAL units (or fragment); false when the payload is malformed.
    private mutating func append(_ payload: ByteBuffer) -> Bool {
        let at = payload.readerIndex
        let length = payload.readableBytes
        guard let b0 = payload.getInteger(at: at, as: UInt8.self) else { return false }
        switch codec {
        case .h264:
            switch b0 & 0x1F {
            case 1...23:
                return fragmentAt == nil && appendNAL(payload)
            case 24:
                return fragmentAt == nil && appendAggregate(payload, from: 1)
            case 28:
                guard length >= 2, let fu = payload.getInteger(at: at + 1, as: UInt8.self),
                      let data = payload.getSlice(at: at + 2, length: length - 2) else { return false }
                return appendFragment(header: b0 & 0xE0 | fu & 0x1F, nil, fu: fu, data: data)
            default:
                return false  // STAP-B, MTAP, FU-B (interleaved mode) and reserved types
            }
        case .h265:
            guard length >= 2, let b1 = payload.getInteger(at: at + 1, as: UInt8.self) else { return false }
            switch (b0 >> 1) & 0x3F {
            case 0...47:
                return fragmentAt == nil && appendNAL(payload)
            case 48:
                return fragmentAt == nil && appendAggregate(payload, from: 2)
            case 49:
                guard length >= 3, let fu = payload.getInteger(at: at + 2, as: UInt8.self),
                      let data = payload.getSlice(at: at + 3, length: length - 3) else { return false }
                return appendFragment(header: b0 & 0x81 | (fu & 0x3F) << 1, b1, fu: fu, data: data)
            default:
                return false  // PACI and reserved types
            }
        }
    }

    /// STAP-A / AP: 16-bit size, NAL unit, repeated to the end of the payload.
    private mutating func appendAggregate(_ payload: ByteBuffer, from offset: Int) -> Bool {
        var rest = payload
        rest.moveReaderIndex(forwardBy: min(offset, rest.readableBytes))
        var count = 0
        while rest.readableBytes > 0 {
            guard let size = rest.readInteger(as: UInt16.self), size > 0,
                  let nal = rest.readSlice(length: Int(size)), appendNAL(nal) else { return false }
            count += 1
        }
        return count > 0
    }

    /// One FU: the NAL header is rebuilt from the FU's (`h1`: H.265's second byte).
    private mutating func appendFragment(header h0: UInt8, _ h1: UInt8?, fu: UInt8, data: ByteBuffer) -> Bool {
        if fu & 0x80 != 0 {
            guard fragmentAt == nil, startNAL(size: codec.headerSize &+ data.readableBytes) else { return false }
            fragmentAt = unit.writerIndex
            unit.writeInteger(UInt32(0))
            unit.writeInteger(h0)
            if let h1 { unit.writeInteger(h1) }
        } else {
            guard fragmentAt != nil, fits(data.readableBytes) else { return false }
        }
        unit.writeImmutableBuffer(data)
        if fu & 0x40 != 0, let lengthAt = fragmentAt {
            fragmentAt = nil
            let nalAt = lengthAt + 4
            let size = unit.writerIndex - nalAt
            unit.setInteger(UInt32(truncatingIfNeeded: size), at: lengthAt)
            if let nal = unit.getSlice(at: nalAt, length: size) { note(nal) }
        }
        return true
    }

    private mutating func appendNAL(_ nal: ByteBuffer) -> Bool {
        guard nal.readableBytes >= codec.headerSize, startNAL(size: nal.readableBytes) else { return false }
        unit.writeInteger(UInt32(truncatingIfNeeded: nal.readableBytes))
        unit.writeImmutableBuffer(nal)
        note(nal)
        return true
    }

    /// Room for one more NAL unit of `size` bytes (plus its length)? False for too many NAL
    /// units, and over the byte cap (the unit is then dropped as oversize).
    private mutating func startNAL(size: Int) -> Bool {
        nalCount += 1
        guard nalCount <= NALPacketizer.maxNALUnits else { return false }
        return fits(size &+ 4)
    }

    private mutating func fits(_ bytes: Int) -> Bool {
        guard bytes <= maxAccessUnitBytes &- unit.readableBytes else {
            if !corrupt { stats.oversizeAccessUnits &+= 1 }
            markCorrupt()
            return false
        }
        return true
    }

    /// Key frames and parameter sets of a complete NAL unit.
    private mutating func note(_ nal: ByteBuffer) {
        guard let b0 = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { return }
        let type = codec.type(b0)
        let kind: WritableKeyPath<ParameterSets, ByteBuffer?>?
        switch (codec, type) {
        case (.h264, 5), (.h265, 16...23): key = true; kind = nil
        case (.h264, 7), (.h265, 33): kind = \.sps
        case (.h264, 8), (.h265, 34): kind = \.pps
        case (.h265, 32): kind = \.vps
        default: kind = nil
        }
        if let kind, parameterSets[keyPath: kind] != nal {
            parameterSets[keyPath: kind] = ByteBuffer(bytes: nal.readableBytesView)  // own copy, not the unit's
            changed = true
        }
    }

    /// After a gap: does this packet surely begin a unit (delimiter, SPS / VPS, or a slice whose
    /// first_mb_in_slice / first_slice_segment_in_pic_flag says it is the picture's first)? A
    /// PPS or SEI may follow lost parameter sets, so they do not count.
    private func canStartPicture(_ payload: ByteBuffer) -> Bool {
        let at = payload.readerIndex
        func byte(_ i: Int) -> UInt8? { payload.getInteger(at: at + i, as: UInt8.self) }
        guard let b0 = byte(0) else { return false }
        // (NAL type, offset of its first byte after the NAL header)
        let nal: (type: UInt8, body: Int)
        switch codec {
        case .h264:
            switch b0 & 0x1F {
            case 24: guard let h = byte(3) else { return false }; nal = (h & 0x1F, 4)
            case 28: guard let fu = byte(1), fu & 0x80 != 0 else { return false }; nal = (fu & 0x1F, 2)
            case let t: nal = (t, 1)
            }
            switch nal.type {
            case 7, 9: return true
            case 1, 5: return (byte(nal.body) ?? 0) & 0x80 != 0  // ue(v) first_mb_in_slice == 0
            default: return false
            }
        case .h265:
            switch (b0 >> 1) & 0x3F {
            case 48: guard let h = byte(4) else { return false }; nal = ((h >> 1) & 0x3F, 6)
            case 49: guard let fu = byte(2), fu & 0x80 != 0 else { return false }; nal = (fu & 0x3F, 3)
            case let t: nal = (t, 2)
            }
            switch nal.type {
            case 32, 35: return true
            case 0...31: return (byte(nal.body) ?? 0) & 0x80 != 0  // first_slice_segment_in_pic_flag
            default: return false
            }
        }
    }
}
