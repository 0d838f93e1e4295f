import NIOCore

/// A small ISO BMFF reader for the tests: the boxes of a buffer with their offsets, so that what
/// the fMP4 muxer wrote is checked by parsing it back, not by comparing against its own writer
/// (unit tests, and the bytes players received in the interop tests).
public struct ReadBox: Sendable {
    public var type: String
    /// Offset of the box's first byte in the parsed buffer, and its size.
    public var offset: Int
    public var size: Int
    /// The body after the 8-byte header (a full box's version/flags included).
    public var body: ByteBuffer

    /// Parses consecutive boxes; nil if a size is out of bounds (the test then fails on it).
    public static func parse(_ buffer: ByteBuffer, base: Int = 0) -> [ReadBox]? {
        var b = buffer
        var out: [ReadBox] = []
        while b.readableBytes > 0 {
            let offset = base + b.readerIndex - buffer.readerIndex
            guard let size = b.readInteger(as: UInt32.self), size >= 8,
                  let type = b.readString(length: 4),
                  let body = b.readSlice(length: Int(size) - 8) else { return nil }
            out.append(ReadBox(type: type, offset: offset, size: Int(size), body: body))
        }
        return out
    }

    public var children: [ReadBox] { Self.parse(body, base: offset + 8) ?? [] }

    public func child(_ type: String) -> ReadBox? { children.first { $0.type == type } }

    /// The box at `path` ("moov/trak/mdia"), first of each type.
    public func find(_ path: String) -> ReadBox? {
        var box: ReadBox? = self
        for part in path.split(separator: "/") { box = box?.child(String(part)) }
        return box
    }

    public func all(_ type: String) -> [ReadBox] { children.filter { $0.type == type } }

    /// A full box's version and flags.
    public var version: UInt8 { body.getInteger(at: body.readerIndex, as: UInt8.self) ?? 0xFF }
    public var flags: UInt32 { (body.getInteger(at: body.readerIndex, as: UInt32.self) ?? 0) & 0xFF_FFFF }

    /// A big-endian integer at `at` bytes into the body.
    public func int<T: FixedWidthInteger>(at: Int, as: T.Type = T.self) -> T? {
        body.getInteger(at: body.readerIndex + at, as: T.self)
    }

    /// The boxes after `skip` bytes of the body (sample entries and their configuration boxes).
    public func boxes(after skip: Int) -> [ReadBox] {
        guard let rest = body.getSlice(at: body.readerIndex + skip, length: body.readableBytes - skip) else { return [] }
        return Self.parse(rest, base: offset + 8 + skip) ?? []
    }
}

/// A parsed one-sample fragment: the fields of its boxes.
public struct ReadFragment: Sendable {
    public var sequence: UInt32
    public var trackID: UInt32
    public var tfhdFlags: UInt32
    public var decodeTime: UInt64
    public var trunVersion: UInt8
    public var trunFlags: UInt32
    public var sampleCount: UInt32
    public var dataOffset: Int
    public var duration: UInt32
    public var size: UInt32
    public var sampleFlags: UInt32
    public var compositionOffset: Int32
    /// The sample's bytes as `dataOffset` locates them from the moof's start.
    public var sample: [UInt8]
    public var mdatPayload: [UInt8]

    /// Parses the moof/mdat pairs of `buffer`; nil on any structural error.
    public static func parseAll(_ buffer: ByteBuffer) -> [ReadFragment]? {
        guard let stream = parseStream(buffer), stream.initSegments == 0 else { return nil }
        return stream.fragments
    }

    /// A whole fMP4 stream: initialization segments (ftyp + moov) and moof/mdat pairs, in any
    /// order; nil on any other box or structural error.
    public static func parseStream(_ buffer: ByteBuffer) -> (initSegments: Int, fragments: [ReadFragment])? {
        guard let boxes = ReadBox.parse(buffer) else { return nil }
        var out: [ReadFragment] = []
        var inits = 0
        var i = 0
        while i < boxes.count {
            guard i + 1 < boxes.count else { return nil }
            if boxes[i].type == "ftyp" && boxes[i + 1].type == "moov" {
                inits += 1
            } else {
                guard boxes[i].type == "moof", boxes[i + 1].type == "mdat",
                      let fragment = parse(moof: boxes[i], mdat: boxes[i + 1], in: buffer) else { return nil }
                out.append(fragment)
            }
            i += 2
        }
        return (inits, out)
    }

    public static func parse(moof: ReadBox, mdat: ReadBox, in buffer: ByteBuffer) -> ReadFragment? {
        guard let mfhd = moof.child("mfhd"), let traf = moof.child("traf"), let tfhd = traf.child("tfhd"),
              let tfdt = traf.child("tfdt"), let trun = traf.child("trun"),
              let sequence = mfhd.int(at: 4, as: UInt32.self), let trackID = tfhd.int(at: 4, as: UInt32.self),
              let decodeTime = tfdt.version == 1 ? tfdt.int(at: 4, as: UInt64.self) : tfdt.int(at: 4, as: UInt32.self).map(UInt64.init),
              let count = trun.int(at: 4, as: UInt32.self), let offset = trun.int(at: 8, as: Int32.self),
              let duration = trun.int(at: 12, as: UInt32.self), let size = trun.int(at: 16, as: UInt32.self),
              let flags = trun.int(at: 20, as: UInt32.self), let cts = trun.int(at: 24, as: Int32.self),
              let sample = buffer.getBytes(at: buffer.readerIndex + moof.offset + Int(offset), length: Int(size)),
              let payload = mdat.body.getBytes(at: mdat.body.readerIndex, length: mdat.body.readableBytes)
        else { return nil }
        return ReadFragment(sequence: sequence, trackID: trackID, tfhdFlags: tfhd.flags, decodeTime: decodeTime,
                            trunVersion: trun.version, trunFlags: trun.flags, sampleCount: count,
                            dataOffset: Int(offset), duration: duration, size: size, sampleFlags: flags,
                            compositionOffset: cts, sample: sample, mdatPayload: payload)
    }
}
