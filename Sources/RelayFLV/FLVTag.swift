import NIOCore

/// FLV TagType values (FLV spec E.4.1). Plain constants: RTMP message type ids are the same numbers.
public enum FLVTagType {
    public static let audio: UInt8 = 8
    public static let video: UInt8 = 9
    public static let script: UInt8 = 18
}

/// One tag of an FLV byte stream. `body` is a slice of the reader's input: no copy.
public struct FLVTag: Sendable, Equatable {
    public var type: UInt8
    /// Milliseconds, with the extended (high) byte applied.
    public var timestamp: UInt32
    public var body: ByteBuffer

    public init(type: UInt8, timestamp: UInt32, body: ByteBuffer) {
        self.type = type
        self.timestamp = timestamp
        self.body = body
    }

    /// Writes header, body and the trailing PreviousTagSize; false (nothing written) for a body
    /// over `FLVTagHeader.maxDataSize`, which DataSize cannot express.
    @discardableResult
    public static func write(type: UInt8, timestamp: UInt32, body: ByteBuffer, into out: inout ByteBuffer) -> Bool {
        guard body.readableBytes <= FLVTagHeader.maxDataSize else { return false }
        FLVTagHeader.write(type: type, dataSize: body.readableBytes, timestamp: timestamp, into: &out)
        out.writeImmutableBuffer(body)
        out.writeInteger(UInt32(truncatingIfNeeded: FLVTagHeader.size + body.readableBytes))
        return true
    }
}

/// The 9-byte FLV file header, always followed by PreviousTagSize0.
public enum FLVFileHeader {
    public static let size = 9
    static let signature: [UInt8] = [0x46, 0x4C, 0x56]  // "FLV"

    /// Writes "FLV", version 1, the audio/video flags, DataOffset 9 and PreviousTagSize0 (13 bytes).
    public static func write(hasAudio: Bool, hasVideo: Bool, into out: inout ByteBuffer) {
        out.writeBytes([0x46, 0x4C, 0x56, 0x01, (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0)])
        out.writeInteger(UInt32(size))
        out.writeInteger(UInt32(0))
    }
}

/// The 11-byte tag header: type, 24-bit DataSize, 24-bit timestamp + extended byte, StreamID 0.
public enum FLVTagHeader {
    public static let size = 11
    /// DataSize has 24 bits.
    public static let maxDataSize = 0xFF_FFFF

    public static func write(type: UInt8, dataSize: Int, timestamp: UInt32, into out: inout ByteBuffer) {
        out.writeInteger(type & 0x1F)
        out.writeInteger(UInt8(truncatingIfNeeded: dataSize >> 16))
        out.writeInteger(UInt16(truncatingIfNeeded: dataSize))
        out.writeInteger(UInt8(truncatingIfNeeded: timestamp >> 16))
        out.writeInteger(UInt16(truncatingIfNeeded: timestamp))
        out.writeInteger(UInt8(truncatingIfNeeded: timestamp >> 24))
        out.writeInteger(UInt8(0))
        out.writeInteger(UInt16(0))
    }
}

/// Incremental parser of an FLV byte stream (HTTP-FLV pull, files). Feed it whatever bytes
/// arrived; it consumes only whole units and returns nil when it needs more.
public struct FLVTagReader: Sendable {
    private enum State: Sendable {
        case fileHeader
        /// Bytes still to discard: the rest of a long file header or a PreviousTagSize.
        case skipping(Int)
        case tagHeader
    }

    public let maxTagSize: Int
    private var state: State

    /// - Parameter expectFileHeader: false for a stream that starts at a tag (after PreviousTagSize).
    public init(maxTagSize: Int = 16 << 20, expectFileHeader: Bool = true) {
        self.maxTagSize = maxTagSize
        self.state = expectFileHeader ? .fileHeader : .tagHeader
    }

    /// The next whole tag, consumed from `buffer`, or nil if more bytes are needed. A tag is
    /// returned as soon as its body is complete; its PreviousTagSize is skipped (not checked,
    /// muxers get it wrong) before the next tag. After a throw the stream is unusable.
    public mutating func next(from buffer: inout ByteBuffer) throws -> FLVTag? {
        while true {
            switch state {
            case .fileHeader:
                guard buffer.readableBytes >= FLVFileHeader.size,
                      let sig = buffer.getBytes(at: buffer.readerIndex, length: 3),
                      let offset = buffer.getInteger(at: buffer.readerIndex + 5, as: UInt32.self) else {
                    if let sig = buffer.getBytes(at: buffer.readerIndex, length: min(3, buffer.readableBytes)),
                       sig != Array(FLVFileHeader.signature.prefix(sig.count)) {
                        throw FLVError.badHeader("signature \(sig)")
                    }
                    return nil
                }
                guard sig == FLVFileHeader.signature else { throw FLVError.badHeader("signature \(sig)") }
                guard offset >= 9 && offset <= 1024 else { throw FLVError.badHeader("DataOffset \(offset)") }
                buffer.moveReaderIndex(forwardBy: FLVFileHeader.size)
                state = .skipping(Int(offset) - FLVFileHeader.size + 4)

            case .skipping(let count):
                let n = min(count, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: n)
                guard n == count else {
                    state = .skipping(count - n)
                    return nil
                }
                state = .tagHeader

            case .tagHeader:
                guard buffer.readableBytes >= FLVTagHeader.size else { return nil }
                let start = buffer.readerIndex
                guard let typeByte = buffer.getInteger(at: start, as: UInt8.self),
                      let sizeField = buffer.getInteger(at: start, as: UInt32.self),
                      let time = buffer.getInteger(at: start + 4, as: UInt32.self) else { return nil }
                let size = Int(sizeField & 0xFF_FFFF)
                guard typeByte & 0x20 == 0 else { throw FLVError.invalid("tag: encrypted (Filter bit set)") }
                let type = typeByte & 0x1F
                guard type == FLVTagType.audio || type == FLVTagType.video || type == FLVTagType.script else {
                    throw FLVError.invalid("tag type \(type)")
                }
                guard size <= maxTagSize else { throw FLVError.tagTooLarge(size: size, max: maxTagSize) }
                guard buffer.readableBytes >= FLVTagHeader.size + size else { return nil }
                buffer.moveReaderIndex(forwardBy: FLVTagHeader.size)
                guard let body = buffer.readSlice(length: size) else { return nil }  // checked above
                state = .skipping(4)
                return FLVTag(type: type, timestamp: time >> 8 | (time & 0xFF) << 24, body: body)
            }
        }
    }
}
