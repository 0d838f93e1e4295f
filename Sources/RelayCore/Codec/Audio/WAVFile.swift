import NIOCore

/// The format and sample data of a RIFF/WAVE file: what a sender needs to send IMA ADPCM
/// blocks made by ffmpeg (`-c:a adpcm_ima_wav`). Other chunks are skipped; bounds are checked.
public struct WAVFile: Sendable {
    /// 1 = PCM, 0x11 = IMA ADPCM, 6/7 = A-law/µ-law …
    public var formatTag: UInt16
    public var channels: Int
    public var sampleRate: Int
    /// Bytes a block (IMA ADPCM: one header and its nibbles per channel).
    public var blockAlign: Int
    public var data: ByteBuffer

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(parsing file: ByteBuffer) throws {
        var buffer = file
        guard buffer.readString(length: 4) == "RIFF", buffer.readInteger(endianness: .little, as: UInt32.self) != nil,
              buffer.readString(length: 4) == "WAVE" else { throw ParseError(description: "not a RIFF/WAVE file") }
        var format: (tag: UInt16, channels: Int, rate: Int, align: Int)?
        while let id = buffer.readString(length: 4), let size = buffer.readInteger(endianness: .little, as: UInt32.self) {
            let length = Int(size)
            guard var chunk = buffer.readSlice(length: min(length, buffer.readableBytes)) else { break }
            if length & 1 == 1 { buffer.moveReaderIndex(forwardBy: min(1, buffer.readableBytes)) }  // pad byte
            switch id {
            case "fmt ":
                guard let tag = chunk.readInteger(endianness: .little, as: UInt16.self),
                      let ch = chunk.readInteger(endianness: .little, as: UInt16.self),
                      let rate = chunk.readInteger(endianness: .little, as: UInt32.self),
                      chunk.readInteger(endianness: .little, as: UInt32.self) != nil,
                      let align = chunk.readInteger(endianness: .little, as: UInt16.self) else {
                    throw ParseError(description: "fmt chunk too short")
                }
                format = (tag, Int(ch), Int(rate), Int(align))
            case "data":
                guard let format else { throw ParseError(description: "data before fmt") }
                formatTag = format.tag
                channels = format.channels
                sampleRate = format.rate
                blockAlign = format.align
                data = chunk
                return
            default:
                continue
            }
        }
        throw ParseError(description: "no data chunk")
    }

    /// The data cut into whole blocks (a trailing partial block is left out).
    public var blocks: [ByteBuffer] {
        guard blockAlign > 0 else { return [] }
        var rest = data
        var out: [ByteBuffer] = []
        while let block = rest.readSlice(length: blockAlign) { out.append(block) }
        return out
    }
}
