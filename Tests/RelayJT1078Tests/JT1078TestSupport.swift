import NIOCore
import NIOEmbedded
@testable import RelayJT1078
import RelayTestSupport

/// Parameter sets of real encodes (ffprobe: 1280x720), for building frames without ffmpeg.
enum Fixtures {
    static let h264SPS = hexBytes(MediaFixtures.h264Main720SPS)
    static let h264PPS = hexBytes(MediaFixtures.h264Main720PPS)
    static let hevcVPS = hexBytes(MediaFixtures.hevcMain720VPS)
    static let hevcSPS = hexBytes(MediaFixtures.hevcMain720SPS)
    static let hevcPPS = hexBytes(MediaFixtures.hevcMain720PPS)

    /// Annex-B: 4-byte start code before each NAL unit.
    static func annexB(_ nals: [[UInt8]]) -> ByteBuffer {
        var out = ByteBuffer()
        for nal in nals {
            out.writeBytes([0, 0, 0, 1])
            out.writeBytes(nal)
        }
        return out
    }

    /// An H.264 slice NAL of `size` bytes (IDR when `key`), with no start-code-like bytes inside.
    static func h264Slice(key: Bool, size: Int, seed: UInt8 = 0) -> [UInt8] {
        [key ? 0x65 : 0x41, 0x88] + (0..<max(0, size - 2)).map { UInt8(truncatingIfNeeded: 0x10 + ($0 &+ Int(seed)) % 200) }
    }

    /// An H.265 slice NAL (IDR_W_RADL when `key`, else TRAIL_R), first_slice_segment_in_pic_flag set.
    static func hevcSlice(key: Bool, size: Int) -> [UInt8] {
        [key ? 0x26 : 0x02, 0x01, 0xAF] + (0..<max(0, size - 3)).map { UInt8(truncatingIfNeeded: 0x10 + $0 % 200) }
    }

    static func keyFrameH264(size: Int = 3000) -> ByteBuffer { annexB([h264SPS, h264PPS, h264Slice(key: true, size: size)]) }
    static func deltaFrameH264(size: Int = 800, seed: UInt8 = 0) -> ByteBuffer { annexB([h264Slice(key: false, size: size, seed: seed)]) }
}

/// Builds packages for tests.
struct Wire {
    var packetizer: JT1078Packetizer

    init(_ version: JT1078Version = .v2016, sim: String = "13912345678", channel: UInt8 = 1, marks: JT1078Packetizer.Marks = .correct) {
        packetizer = try! JT1078Packetizer(version: version, sim: sim, channel: channel, marks: marks)
    }

    mutating func frame(_ body: ByteBuffer, pt: UInt8 = JT1078PayloadType.h264, type: JT1078DataType = .pFrame,
                        ts: UInt64) -> ByteBuffer {
        var out = ByteBuffer()
        packetizer.packetize(body, payloadType: pt, dataType: type, timestamp: ts, into: &out)
        return out
    }

    mutating func package(_ body: ByteBuffer, pt: UInt8 = JT1078PayloadType.h264, type: JT1078DataType = .pFrame,
                          mark: JT1078Subpackage, ts: UInt64, bodyLength: Int? = nil) -> ByteBuffer {
        var out = ByteBuffer()
        packetizer.write(body, marker: mark.endsFrame, payloadType: pt, dataType: type, mark: mark, timestamp: ts,
                         bodyLength: bodyLength, into: &out)
        return out
    }
}

/// `stream` cut into reads of `size` bytes (the last one shorter).
func chunks(_ stream: ByteBuffer, size: Int) -> [ByteBuffer] {
    var out: [ByteBuffer] = []
    var i = stream.readerIndex
    while i < stream.writerIndex {
        let n = min(size, stream.writerIndex - i)
        out.append(stream.getSlice(at: i, length: n)!)
        i += n
    }
    return out
}

/// Feeds a decoder chunk by chunk, as ByteToMessageHandler would, collecting packages.
func decodeAll(_ chunks: [ByteBuffer], decoder: inout JT1078FrameDecoder, finish: Bool = false) throws -> [JT1078Packet] {
    var cumulation = ByteBuffer()
    var out: [JT1078Packet] = []
    for var chunk in chunks {
        cumulation.writeBuffer(&chunk)
        while let p = try decoder.decode(buffer: &cumulation) { out.append(p) }
    }
    if finish {
        while let p = try decoder.decodeLast(buffer: &cumulation, seenEOF: true) { out.append(p) }
    }
    return out
}

/// Runs packages through a reassembler.
func reassemble(_ packets: [JT1078Packet], video: Bool = true, maxFrameBytes: Int = 4 << 20) -> (events: [JT1078Reassembler.Event], r: JT1078Reassembler) {
    var r = JT1078Reassembler(video: video, maxFrameBytes: maxFrameBytes)
    var events: [JT1078Reassembler.Event] = []
    for p in packets { r.push(p, into: &events) }
    return (events, r)
}

extension Array where Element == JT1078Reassembler.Event {
    var frames: [JT1078Frame] {
        compactMap { if case .frame(let f) = $0 { return f } else { return nil } }
    }
    var discontinuities: Int {
        filter { if case .discontinuity = $0 { return true } else { return false } }.count
    }
    var sawMarksUnreliable: Bool { contains(.marksUnreliable) }
}

func packet(_ body: ByteBuffer, pt: UInt8 = JT1078PayloadType.h264, type: JT1078DataType = .pFrame,
            mark: JT1078Subpackage, ts: UInt64) -> JT1078Packet {
    JT1078Packet(version: .v2016, marker: mark.endsFrame, payloadType: pt, sequence: 0, sim: "013912345678", channel: 1,
                 dataType: type, subpackage: mark, timestamp: ts, body: body)
}

func bytes(_ b: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: b) }
