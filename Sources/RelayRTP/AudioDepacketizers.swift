import NIOCore

/// AAC as RFC 3640 `mpeg4-generic` (AAC-hbr by default: 13-bit sizes, 3-bit indexes): the
/// AU-headers-length in bits, the AU headers, then the AUs back to back. Several AUs in one
/// packet get timestamps `samplesPerAccessUnit` apart; an AU bigger than a packet comes as
/// fragments that each repeat the whole AU's size and share one timestamp (§3.2.3.2).
///
/// Loss: a gap drops only a fragmented AU it cuts through; complete AUs after it are kept.
public struct AACDepacketizer: RTPDepacketizer {
    public let sizeLength: Int
    public let indexLength: Int
    public let indexDeltaLength: Int
    public let samplesPerAccessUnit: Int
    public let maxAccessUnitBytes: Int
    public private(set) var stats = RTPDepacketizerStats()

    private var sequence = RTPSequenceCheck()
    private var unwrapper = TimestampUnwrapper(bits: 32)
    private var lastTimestamp: UInt32?
    /// The fragmented AU being gathered: its size, timestamp and bytes so far.
    private var fragment: (size: Int, timestamp: UInt32, bytes: ByteBuffer)?
    /// Fragments of this timestamp are skipped: their AU lost its start (already counted).
    private var skipping: UInt32?

    /// Field lengths come from the SDP `fmtp` (sizeLength, indexLength, indexDeltaLength) and
    /// are clamped to what RFC 3640 allows (sizes 1...32 bits, indexes 0...16).
    public init(sizeLength: Int = 13, indexLength: Int = 3, indexDeltaLength: Int = 3,
                samplesPerAccessUnit: Int = 1024, maxAccessUnitBytes: Int = RTPAccessUnit.defaultMaxBytes) {
        self.sizeLength = min(max(sizeLength, 1), 32)
        self.indexLength = min(max(indexLength, 0), 16)
        self.indexDeltaLength = min(max(indexDeltaLength, 0), 16)
        self.samplesPerAccessUnit = min(max(samplesPerAccessUnit, 1), 1 << 20)
        self.maxAccessUnitBytes = max(maxAccessUnitBytes, 1)
    }

    public mutating func push(_ packet: RTPPacket, emit: (RTPAccessUnit) throws -> Void) rethrows {
        guard let gap = sequence.admit(packet.sequence, counting: &stats) else { return }
        let continues = !gap && packet.timestamp == lastTimestamp
        let sameTimestamp = packet.timestamp == lastTimestamp
        lastTimestamp = packet.timestamp
        let time = unwrapper.unwrap(UInt64(packet.timestamp))
        if let f = fragment, !continues || f.timestamp != packet.timestamp {
            dropFragment(skip: sameTimestamp ? f.timestamp : nil)
        }
        if let skip = skipping, skip != packet.timestamp { skipping = nil }

        guard let (sizes, dataAt) = auSizes(packet.payload) else {
            stats.malformedPackets &+= 1
            if fragment != nil { dropFragment(skip: packet.timestamp) }
            return
        }
        var data = packet.payload
        data.moveReaderIndex(forwardBy: dataAt)
        if sizes.count == 1, let size = sizes.first, size > data.readableBytes {
            try pushFragment(data, size: size, timestamp: packet.timestamp, time: time, afterGap: gap && sameTimestamp,
                             emit: emit)
            return
        }
        if fragment != nil { dropFragment(skip: nil) }  // a whole-AU packet inside a fragmented AU
        skipping = nil
        for (i, size) in sizes.enumerated() {
            guard let au = data.readSlice(length: size) else {
                stats.malformedPackets &+= 1  // sizes overrun the packet: the rest is unusable
                return
            }
            guard size <= maxAccessUnitBytes else {
                stats.oversizeAccessUnits &+= 1
                stats.droppedAccessUnits &+= 1
                continue
            }
            stats.accessUnits &+= 1
            let offset = Int64(i) &* Int64(samplesPerAccessUnit)  // i < 2^16, samples ≤ 2^20
            try emit(RTPAccessUnit(payload: au, rtpTime: time &+ offset, isKeyFrame: true))
        }
    }

    public mutating func flush(emit: (RTPAccessUnit) throws -> Void) rethrows {
        if fragment != nil { dropFragment(skip: nil) }
    }

    private mutating func pushFragment(_ data: ByteBuffer, size: Int, timestamp: UInt32, time: Int64, afterGap: Bool,
                                       emit: (RTPAccessUnit) throws -> Void) rethrows {
        if skipping == timestamp { return }
        if var f = fragment {
            guard f.size == size, data.readableBytes <= size &- f.bytes.readableBytes else {
                stats.malformedPackets &+= 1
                dropFragment(skip: timestamp)
                return
            }
            fragment = nil  // keep `f.bytes` uniquely referenced while appending
            f.bytes.writeImmutableBuffer(data)
            fragment = f
        } else {
            // After a gap, a fragment with the timestamp of the packet before it continues an AU
            // whose start was lost.
            guard !afterGap else {
                stats.droppedAccessUnits &+= 1
                skipping = timestamp
                return
            }
            guard size <= maxAccessUnitBytes else {
                stats.oversizeAccessUnits &+= 1
                stats.droppedAccessUnits &+= 1
                skipping = timestamp
                return
            }
            var bytes = ByteBuffer()
            bytes.reserveCapacity(min(size, 1 << 16))  // a declared size alone does not allocate much
            bytes.writeImmutableBuffer(data)
            fragment = (size, timestamp, bytes)
        }
        if let f = fragment, f.bytes.readableBytes == f.size {
            fragment = nil
            stats.accessUnits &+= 1
            try emit(RTPAccessUnit(payload: f.bytes, rtpTime: time, isKeyFrame: true))
        }
    }

    /// Drops the AU being gathered; `skip` ignores the rest of its fragments.
    private mutating func dropFragment(skip: UInt32?) {
        if fragment != nil { stats.droppedAccessUnits &+= 1 }
        fragment = nil
        skipping = skip
    }

    /// The AU sizes of the header section and where the AUs begin; nil when malformed.
    private func auSizes(_ payload: ByteBuffer) -> (sizes: [Int], dataAt: Int)? {
        guard let headerBits = payload.getInteger(at: payload.readerIndex, as: UInt16.self).map(Int.init) else { return nil }
        let headerBytes = (headerBits + 7) / 8
        let dataAt = 2 + headerBytes
        guard headerBits > 0, dataAt <= payload.readableBytes else { return nil }
        var reader = BitReader(payload, from: payload.readerIndex + 2, bits: headerBits)
        var sizes: [Int] = []
        var first = true
        // Each header holds at least one bit: at most 65535 headers, and no more AUs than bytes.
        while let size = reader.read(sizeLength), reader.read(first ? indexLength : indexDeltaLength) != nil {
            guard size > 0 else { return nil }
            sizes.append(size)
            first = false
            if sizes.count > payload.readableBytes { return nil }
        }
        return sizes.isEmpty ? nil : (sizes, dataAt)
    }
}

/// Reads big-endian bit fields of at most 32 bits from a bounded region of a buffer.
struct BitReader {
    private let buffer: ByteBuffer
    private let start: Int
    private let bits: Int
    private var position = 0

    init(_ buffer: ByteBuffer, from start: Int, bits: Int) {
        self.buffer = buffer
        self.start = start
        self.bits = bits
    }

    /// The next `count` (0...32) bits, or nil when fewer remain.
    mutating func read(_ count: Int) -> Int? {
        guard count >= 0, count <= 32, count <= bits - position else { return nil }
        var value = 0
        for _ in 0..<count {
            guard let byte = buffer.getInteger(at: start + position / 8, as: UInt8.self) else { return nil }
            value = value << 1 | Int(byte >> (7 - UInt8(position % 8)) & 1)
            position += 1
        }
        return value
    }
}

/// G.711 A-law / µ-law (RFC 3551): each packet's samples as they are, timed by its RTP
/// timestamp (one tick per sample).
public struct G711Depacketizer: RTPDepacketizer {
    public private(set) var stats = RTPDepacketizerStats()
    private var sequence = RTPSequenceCheck()
    private var unwrapper = TimestampUnwrapper(bits: 32)

    public init() {}

    public mutating func push(_ packet: RTPPacket, emit: (RTPAccessUnit) throws -> Void) rethrows {
        guard sequence.admit(packet.sequence, counting: &stats) != nil else { return }
        let time = unwrapper.unwrap(UInt64(packet.timestamp))
        guard packet.payload.readableBytes > 0 else {
            stats.malformedPackets &+= 1
            return
        }
        stats.accessUnits &+= 1
        try emit(RTPAccessUnit(payload: packet.payload, rtpTime: time, isKeyFrame: true))
    }

    public mutating func flush(emit: (RTPAccessUnit) throws -> Void) rethrows {}
}
