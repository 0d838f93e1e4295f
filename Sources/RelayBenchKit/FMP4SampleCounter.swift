import NIOCore

/// Counts the samples of a fragmented MP4 stream as it arrives (fMP4 over HTTP or WebSocket,
/// HLS fMP4 segments): `moov` says which tracks are video, each `moof` how many samples each
/// track has and which are sync samples; `mdat` bytes are passed over without copying.
struct FMP4SampleCounter {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// A sample: video or audio, sync (key) or not.
    typealias Sample = (video: Bool, key: Bool)

    private var pending = ByteBuffer()
    /// Bytes of the current skipped box (`mdat`, `free` …) still to pass over.
    private var skip = 0
    private var videoTracks: Set<UInt32> = []
    private(set) var initSegments = 0
    private(set) var fragments = 0

    /// `moov` and `moof` are read whole; larger ones are refused.
    static let maxBoxBytes = 8 << 20

    mutating func consume(_ data: ByteBuffer, onSample: (Sample) -> Void) throws {
        var input = data
        if pending.readableBytes > 0 {
            pending.writeImmutableBuffer(data)
            input = pending
            pending = ByteBuffer()
        }
        while true {
            if skip > 0 {
                let n = min(skip, input.readableBytes)
                input.moveReaderIndex(forwardBy: n)
                skip -= n
                if skip > 0 { break }
            }
            let at = input.readerIndex
            guard let size32 = input.getInteger(at: at, as: UInt32.self), let type = input.getString(at: at + 4, length: 4) else { break }
            var size = Int(size32), header = 8
            if size32 == 1 {
                guard let large = input.getInteger(at: at + 8, as: UInt64.self) else { break }
                size = Int(clamping: large)
                header = 16
            } else if size32 == 0 {
                size = Int.max  // to the end of the stream
            }
            guard size >= header else { throw Failure(description: "box \(type) of size \(size)") }
            if type == "moov" || type == "moof" {
                guard size <= Self.maxBoxBytes else { throw Failure(description: "\(type) of \(size) bytes") }
                guard let box = input.readSlice(length: size) else { break }
                if type == "moov" { readMovie(box) } else { try readFragment(box, onSample: onSample) }
            } else {
                input.moveReaderIndex(forwardBy: header)
                skip = size - header
            }
        }
        if input.readableBytes > 0 { pending.writeImmutableBuffer(input) }  // a box header or part of a moof
    }

    /// Video tracks: `trak` with `tkhd` track_ID and `mdia/hdlr` handler_type `vide`.
    private mutating func readMovie(_ moov: ByteBuffer) {
        initSegments += 1
        videoTracks = []
        for trak in Self.children(moov, header: 8) where trak.type == "trak" {
            let boxes = Self.children(trak.box, header: 8)
            guard let tkhd = boxes.first(where: { $0.type == "tkhd" })?.box,
                  let version = tkhd.getInteger(at: tkhd.readerIndex + 8, as: UInt8.self),
                  let id = tkhd.getInteger(at: tkhd.readerIndex + (version == 1 ? 28 : 20), as: UInt32.self),
                  let mdia = boxes.first(where: { $0.type == "mdia" })?.box,
                  let hdlr = Self.children(mdia, header: 8).first(where: { $0.type == "hdlr" })?.box,
                  hdlr.getString(at: hdlr.readerIndex + 16, length: 4) == "vide" else { continue }
            videoTracks.insert(id)
        }
    }

    /// Samples of each `traf`: `tfhd` (track, default flags) and its `trun`s (count, flags).
    private mutating func readFragment(_ moof: ByteBuffer, onSample: (Sample) -> Void) throws {
        fragments += 1
        for traf in Self.children(moof, header: 8) where traf.type == "traf" {
            var track: UInt32?
            var defaultFlags: UInt32 = 0
            for child in Self.children(traf.box, header: 8) {
                var b = child.box
                b.moveReaderIndex(forwardBy: 8)
                guard let versionFlags = b.readInteger(as: UInt32.self) else { continue }
                let flags = versionFlags & 0xFF_FFFF
                if child.type == "tfhd" {
                    track = b.readInteger(as: UInt32.self)
                    var offset = 0
                    if flags & 0x01 != 0 { offset += 8 }
                    if flags & 0x02 != 0 { offset += 4 }
                    if flags & 0x08 != 0 { offset += 4 }
                    if flags & 0x10 != 0 { offset += 4 }
                    if flags & 0x20 != 0 { defaultFlags = b.getInteger(at: b.readerIndex + offset, as: UInt32.self) ?? 0 }
                } else if child.type == "trun" {
                    guard let track, let count = b.readInteger(as: UInt32.self) else {
                        throw Failure(description: "trun without tfhd or sample_count")
                    }
                    if flags & 0x01 != 0 { b.moveReaderIndex(forwardBy: min(4, b.readableBytes)) }
                    var firstFlags: UInt32?
                    if flags & 0x04 != 0 { firstFlags = b.readInteger(as: UInt32.self) }
                    let fields = [0x100, 0x200, 0x400, 0x800].filter { flags & $0 != 0 }
                    let flagsOffset = [0x100, 0x200].filter { flags & $0 != 0 }.count * 4
                    let entryBytes = 4 * fields.count
                    guard count <= 100_000, Int(count) * entryBytes <= b.readableBytes else {
                        throw Failure(description: "trun sample_count \(count) past its box")
                    }
                    let video = videoTracks.contains(track)
                    for i in 0..<Int(count) {
                        var sampleFlags = defaultFlags
                        if i == 0, let firstFlags {
                            sampleFlags = firstFlags
                        } else if flags & 0x400 != 0 {
                            sampleFlags = b.getInteger(at: b.readerIndex + i * entryBytes + flagsOffset, as: UInt32.self) ?? 0
                        }
                        onSample((video, sampleFlags & 0x0001_0000 == 0))  // sample_is_non_sync_sample
                    }
                }
            }
        }
    }

    /// The child boxes of `box` after its first `header` bytes.
    private static func children(_ box: ByteBuffer, header: Int) -> [(type: String, box: ByteBuffer)] {
        var b = box
        b.moveReaderIndex(forwardBy: min(header, b.readableBytes))
        var out: [(String, ByteBuffer)] = []
        while let size = b.getInteger(at: b.readerIndex, as: UInt32.self), size >= 8,
              let type = b.getString(at: b.readerIndex + 4, length: 4), let child = b.readSlice(length: Int(size)) {
            out.append((type, child))
        }
        return out
    }
}
