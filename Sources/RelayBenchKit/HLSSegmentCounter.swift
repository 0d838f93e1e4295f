import NIOCore

/// Counts the frames of HLS media segments as their bytes arrive: MPEG-TS (a PES start on a
/// video stream id is a frame, random_access_indicator marks key frames; sync bytes and packet
/// alignment checked) or fMP4 (the samples of each fragment).
struct HLSSegmentCounter {
    struct Failure: Error, CustomStringConvertible { let description: String }

    private enum Format { case unknown, ts, fmp4 }
    private var format = Format.unknown
    /// The part of a transport packet split between two reads.
    private var carry = ByteBuffer()
    private var fmp4 = FMP4SampleCounter()

    /// A new segment (or the init section) starts.
    mutating func startSegment() throws {
        if carry.readableBytes > 0 { throw Failure(description: "TS segment ended inside a packet") }
        if format == .ts { format = .unknown }
    }

    mutating func consume(_ data: ByteBuffer, onSample: (FMP4SampleCounter.Sample) -> Void) throws {
        if format == .unknown, let first = data.getInteger(at: data.readerIndex, as: UInt8.self) {
            format = first == 0x47 ? .ts : .fmp4
        }
        switch format {
        case .fmp4: try fmp4.consume(data, onSample: onSample)
        case .ts: try consumeTS(data, onSample: onSample)
        case .unknown: break
        }
    }

    private mutating func consumeTS(_ data: ByteBuffer, onSample: (FMP4SampleCounter.Sample) -> Void) throws {
        var input = data
        if carry.readableBytes > 0 {
            let need = 188 - carry.readableBytes
            guard let head = input.readSlice(length: min(need, input.readableBytes)) else { return }
            carry.writeImmutableBuffer(head)
            guard carry.readableBytes == 188 else { return }
            try Self.packet(carry, onSample: onSample)
            carry.clear()
        }
        while let packet = input.readSlice(length: 188) {
            try Self.packet(packet, onSample: onSample)
        }
        if input.readableBytes > 0 { carry.writeImmutableBuffer(input) }
    }

    private static func packet(_ p: ByteBuffer, onSample: (FMP4SampleCounter.Sample) -> Void) throws {
        let at = p.readerIndex
        guard p.getInteger(at: at, as: UInt8.self) == 0x47, let b1 = p.getInteger(at: at + 1, as: UInt8.self),
              let b3 = p.getInteger(at: at + 3, as: UInt8.self) else {
            throw Failure(description: "TS packet without sync byte")
        }
        guard b1 & 0x40 != 0, b3 & 0x10 != 0 else { return }  // PES starts only
        var payload = at + 4
        var randomAccess = false
        if b3 & 0x20 != 0, let length = p.getInteger(at: at + 4, as: UInt8.self) {
            if length > 0, let flags = p.getInteger(at: at + 5, as: UInt8.self) { randomAccess = flags & 0x40 != 0 }
            payload += 1 + Int(length)
        }
        guard payload + 4 <= at + 188, p.getInteger(at: payload, as: UInt16.self) == 0,
              p.getInteger(at: payload + 2, as: UInt8.self) == 1, let id = p.getInteger(at: payload + 3, as: UInt8.self) else { return }
        if (0xE0...0xEF).contains(id) {
            onSample((video: true, key: randomAccess))
        } else if (0xC0...0xDF).contains(id) {
            onSample((video: false, key: true))
        }
    }
}
