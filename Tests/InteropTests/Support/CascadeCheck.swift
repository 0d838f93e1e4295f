import Foundation
import NIOCore
import RelayCore
import RelayRTP
import Testing

/// Checks of what a cascade sender sent: the RTP layer by hand, the program stream by ffmpeg,
/// and the elementary streams against the source's.
enum CascadeCheck {
    /// The RTP rules (one SSRC and payload type, consecutive sequence numbers, payload ≤ 1400, a
    /// new timestamp only after a marker, the marker on the last packet, a map with every key
    /// frame, 25 fps video 3600 ticks apart) and the PS bytes (the payloads in order).
    static func rtp(_ packets: [ByteBuffer], ssrc: UInt32, payloadType: UInt8,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let parsed = try packets.map { try RTPPacket(parsing: $0) }
        try #require(!parsed.isEmpty, "no RTP packets captured", sourceLocation: sourceLocation)
        #expect(parsed.allSatisfy { $0.ssrc == ssrc && $0.payloadType == payloadType }, sourceLocation: sourceLocation)
        #expect(parsed.allSatisfy { $0.payload.readableBytes <= 1400 }, "a payload over 1400 bytes", sourceLocation: sourceLocation)
        let gaps = zip(parsed, parsed.dropFirst()).filter { $1.sequence != $0.sequence &+ 1 }.count
        #expect(gaps == 0, "\(gaps) sequence gaps in \(parsed.count) packets", sourceLocation: sourceLocation)
        let unmarked = zip(parsed, parsed.dropFirst()).filter { $1.timestamp != $0.timestamp && !$0.marker }.count
        #expect(unmarked == 0 && parsed.last?.marker == true, "\(unmarked) frames end without the marker", sourceLocation: sourceLocation)
        // Frames: packets up to each marker.
        var frames: [(timestamp: UInt32, bytes: [UInt8])] = []
        var open: [UInt8] = []
        for p in parsed {
            open += p.payload.readableBytesView
            if p.marker { frames.append((p.timestamp, open)); open = [] }
        }
        let video = frames.filter { contains($0.bytes, [0, 0, 1, 0xE0]) }
        let hevc = video.contains { contains($0.bytes, [0, 0, 0, 1, 0x40, 0x01]) }  // a VPS
        let keys = video.filter { isKeyFrame($0.bytes, hevc: hevc) }
        let withMap = frames.filter { contains($0.bytes, [0, 0, 1, 0xBC]) }
        #expect(!keys.isEmpty && keys.allSatisfy { contains($0.bytes, [0, 0, 1, 0xBC]) } && withMap.count == keys.count,
                "\(keys.count) key frames, \(withMap.count) maps", sourceLocation: sourceLocation)
        let steps = zip(video, video.dropFirst()).map { $1.timestamp &- $0.timestamp }
        #expect(steps.filter { $0 == 3600 }.count >= steps.count * 9 / 10, "video steps \(Set(steps))", sourceLocation: sourceLocation)
        return frames.flatMap(\.bytes)
    }

    /// A pack with an H.264 IDR slice (type 5) or an H.265 IRAP slice (types 16...21).
    static func isKeyFrame(_ b: [UInt8], hevc: Bool) -> Bool {
        var i = 0
        while i + 4 <= b.count {
            if b[i] == 0, b[i + 1] == 0, b[i + 2] == 1 {
                let h = b[i + 3]
                if !hevc && h & 0x9F == 5 && h & 0x60 != 0 { return true }
                if hevc && h & 0x81 == 0 && (16...21).contains(h >> 1) { return true }
            }
            i += 1
        }
        return false
    }

    static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard hay.count >= needle.count else { return false }
        var i = 0
        while i <= hay.count - needle.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    /// ffprobe's line per stream of a program stream file.
    static func probe(_ ps: String) async throws -> String {
        let r = try await ChildProcess.run("ffprobe", ["-v", "error", "-f", "mpeg", "-show_entries", FFprobe.streamEntries,
                                                       "-of", "compact", ps], timeout: 30)
        #expect(r.status == 0, "ffprobe \(ps): \(r.err)")
        return r.out
    }

    /// ffmpeg copies one elementary stream out of `input` (`-f mpeg` for captures).
    static func extract(_ input: String, isPS: Bool, map: String, format: String, bsf: String? = nil) async throws -> [UInt8] {
        let out = NSTemporaryDirectory() + "liverelay-cascade-\(getpid())-\(UUID().uuidString).\(format)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var args = ["-y", "-v", "error"] + (isPS ? ["-f", "mpeg"] : []) + ["-i", input, "-map", map, "-c", "copy"]
        if let bsf { args += ["-bsf:v", bsf] }
        let r = try await ChildProcess.run("ffmpeg", args + ["-f", format, out], timeout: 60)
        #expect(r.status == 0, "ffmpeg \(args.joined(separator: " ")): \(r.err)")
        return Array(FileManager.default.contents(atPath: out) ?? Data())
    }

    /// NAL units of an Annex-B stream without parameter sets and delimiters (the sender puts
    /// parameter sets before key frames that lack them).
    static func slices(_ annexB: [UInt8], hevc: Bool) -> [[UInt8]] {
        AnnexB.split(ByteBuffer(bytes: annexB)).map { Array($0.readableBytesView) }.filter { nal in
            guard let h = nal.first else { return false }
            return hevc ? !(32...35).contains(h >> 1 & 0x3F) : ![7, 8, 9].contains(h & 0x1F)
        }
    }

    /// The payloads of one stream's PES packets, walked by hand (ISO/IEC 13818-1 §2.5: pack
    /// header with its stuffing, then length-prefixed system header, map and PES packets), so
    /// the check does not lean on the relay's own PS parser.
    static func pesPayloads(_ ps: [UInt8], streamID: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i + 6 <= ps.count {
            guard ps[i] == 0, ps[i + 1] == 0, ps[i + 2] == 1 else { i += 1; continue }
            let id = ps[i + 3]
            if id == 0xBA {
                guard i + 14 <= ps.count else { break }
                i += 14 + Int(ps[i + 13] & 0x07)
                continue
            }
            let length = Int(ps[i + 4]) << 8 | Int(ps[i + 5])
            let end = min(ps.count, i + 6 + length)
            if id == streamID, i + 9 <= end {
                let start = i + 9 + Int(ps[i + 8])
                if start <= end { out += ps[start..<end] }
            }
            i = end
        }
        return out
    }

    /// Raw AAC frames of an ADTS stream.
    static func adtsFrames(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = ByteBuffer(bytes: bytes)
        while let header = try? AAC.ADTSHeader(parsing: buffer), buffer.readableBytes >= header.frameLength {
            out.append(Array(buffer.readableBytesView.dropFirst(header.headerLength).prefix(header.payloadLength)))
            buffer.moveReaderIndex(forwardBy: header.frameLength)
        }
        return out
    }

    /// `captured` is a run of `source` (looped sources: of it twice over) that is most of it:
    /// the index where it starts and how much of the source it covers.
    static func run<T: Equatable>(_ captured: [T], in source: [T], looped: Bool = false) -> (start: Int?, covered: Double) {
        guard let first = captured.first, !source.isEmpty else { return (nil, 0) }
        let hay = looped ? source + source : source
        for start in hay.indices where hay[start] == first {
            let end = start + captured.count
            if end <= hay.count && hay[start..<end].elementsEqual(captured) {
                return (start, Double(captured.count) / Double(source.count))
            }
        }
        return (nil, 0)
    }
}
