import FuzzSupport
import NIOCore

/// An HTTP fMP4 player: each write is one HTTP chunk of whole top-level boxes — the init segment
/// (`ftyp` `moov`) first, then `moof`+`mdat` fragments whose sequence numbers increase and whose
/// per-track decode times (`tfdt`) never go back, as MSE requires.
final class FMP4OutputCheck: OutputCheck {
    private var sawInit = false
    private var lastSequence: UInt32?
    private var lastDecodeTime: [UInt32: UInt64] = [:]

    func consume(_ bytes: ByteBuffer) {
        guard var body = HTTPChunkCheck.body(of: bytes, output: "fMP4") else { return }
        var expectMdat = false
        while body.readableBytes > 0 {
            guard let size = body.readInteger(as: UInt32.self), let type = body.readBytes(length: 4),
                  size >= 8, var box = body.readSlice(length: Int(size) - 8) else {
                invariant(false, "fMP4 box header or size runs past its HTTP chunk")
                return
            }
            let name = String(decoding: type, as: UTF8.self)
            if !sawInit {
                invariant(name == "ftyp", "fMP4 output starts with \(name), not ftyp")
                sawInit = true
            }
            invariant(!expectMdat || name == "mdat", "a moof is followed by \(name), not mdat")
            expectMdat = name == "moof"
            switch name {
            case "ftyp", "moov", "mdat": break
            case "moof": checkFragment(&box)
            default: invariant(false, "fMP4 output carries a top-level \(name) box")
            }
        }
        invariant(!expectMdat, "an fMP4 write ends after a moof, without its mdat")
    }

    private func checkFragment(_ moof: inout ByteBuffer) {
        var track: UInt32 = 0
        while let size = moof.readInteger(as: UInt32.self), let type = moof.readBytes(length: 4), size >= 8,
              var child = moof.readSlice(length: Int(size) - 8) {
            switch String(decoding: type, as: UTF8.self) {
            case "mfhd":
                guard let sequence = child.getInteger(at: child.readerIndex + 4, as: UInt32.self) else { break }
                if let last = lastSequence { invariant(sequence > last, "moof sequence \(sequence) after \(last)") }
                lastSequence = sequence
            case "traf":
                checkTrackFragment(&child, track: &track)
            default:
                break
            }
        }
    }

    private func checkTrackFragment(_ traf: inout ByteBuffer, track: inout UInt32) {
        while let size = traf.readInteger(as: UInt32.self), let type = traf.readBytes(length: 4), size >= 8,
              let child = traf.readSlice(length: Int(size) - 8) {
            let version = child.getInteger(at: child.readerIndex, as: UInt8.self) ?? 0
            switch String(decoding: type, as: UTF8.self) {
            case "tfhd":
                track = child.getInteger(at: child.readerIndex + 4, as: UInt32.self) ?? 0
            case "tfdt":
                let time = version == 1
                    ? child.getInteger(at: child.readerIndex + 4, as: UInt64.self)
                    : child.getInteger(at: child.readerIndex + 4, as: UInt32.self).map(UInt64.init)
                guard let time else { invariant(false, "truncated tfdt"); return }
                if let last = lastDecodeTime[track] {
                    invariant(time >= last, "track \(track) decode time went back from \(last) to \(time)")
                }
                lastDecodeTime[track] = time
            default:
                break
            }
        }
    }
}

/// An HLS TS segmenter's input: every segment is whole 188-byte transport packets, each starting
/// with the sync byte.
final class TSOutputCheck: OutputCheck {
    func consume(_ bytes: ByteBuffer) {
        invariant(bytes.readableBytes % 188 == 0, "a TS segment of \(bytes.readableBytes) bytes is not whole packets")
        var offset = bytes.readerIndex
        while offset < bytes.writerIndex {
            invariant(bytes.getInteger(at: offset, as: UInt8.self) == 0x47, "TS packet without its sync byte")
            offset += 188
        }
    }
}

/// The chunked framing every HTTP stream output shares (`HTTPChunkFraming`).
enum HTTPChunkCheck {
    /// The chunk's body, after checking its fixed-width size line and trailing CRLF.
    static func body(of bytes: ByteBuffer, output: String) -> ByteBuffer? {
        var buffer = bytes
        guard let line = buffer.readBytes(length: 10), line[8] == 0x0D, line[9] == 0x0A,
              let size = Int(String(decoding: line[0..<8], as: UTF8.self), radix: 16) else {
            invariant(false, "\(output) write does not start with a chunk size line")
            return nil
        }
        invariant(buffer.readableBytes == size + 2, "HTTP chunk says \(size) bytes, the write has \(buffer.readableBytes - 2)")
        guard let body = buffer.readSlice(length: size) else { return nil }
        invariant(buffer.readBytes(length: 2) == [0x0D, 0x0A], "HTTP chunk not terminated by CRLF")
        return body
    }
}
