import Foundation
import NIOCore
import RelayCore
import RelayTestSupport

/// A strict MPEG-TS reader for the muxer tests: checks what the muxer promises (sync bytes,
/// continuity, CRCs, PES lengths) and hands back the program tables and PES packets.
struct TSReader {
    struct PES {
        var pid: UInt16
        var streamID: UInt8
        var pts: UInt64?
        var dts: UInt64?
        var declaredLength: Int
        var headerLength: Int
        var data: [UInt8] = []
        var randomAccess: Bool
        var pcr: UInt64?
    }

    var problems: [String] = []
    var pats = 0
    /// (stream_type, PID) of the last PMT, its PCR_PID and version.
    var pmt: [(type: UInt8, pid: UInt16)] = []
    var pcrPID: UInt16?
    var pmtVersion: UInt8?
    var pes: [PES] = []
    private var open: [UInt16: PES] = [:]
    private var lastCC: [UInt16: UInt8] = [:]

    init(_ bytes: [UInt8]) {
        if bytes.count % 188 != 0 { problems.append("length \(bytes.count) is not a multiple of 188") }
        var offset = 0
        while offset + 188 <= bytes.count {
            packet(Array(bytes[offset..<offset + 188]), at: offset)
            offset += 188
        }
        for (_, p) in open { close(p) }
        open = [:]
    }

    init(_ buffer: ByteBuffer) { self.init(Array(buffer.readableBytesView)) }

    private mutating func packet(_ p: [UInt8], at offset: Int) {
        guard p[0] == 0x47 else { problems.append("no sync byte at \(offset)"); return }
        let unitStart = p[1] & 0x40 != 0
        let pid = UInt16(p[1] & 0x1F) << 8 | UInt16(p[2])
        let afc = p[3] >> 4 & 0x03
        let cc = p[3] & 0x0F
        if afc & 0x01 != 0 {
            if let last = lastCC[pid], (last + 1) & 0x0F != cc { problems.append("CC \(last)→\(cc) on PID \(pid) at \(offset)") }
            lastCC[pid] = cc
        }
        var i = 4
        var randomAccess = false
        var pcr: UInt64?
        if afc & 0x02 != 0 {
            let length = Int(p[4])
            guard length <= 183 else { problems.append("adaptation field \(length) at \(offset)"); return }
            if length > 0 {
                randomAccess = p[5] & 0x40 != 0
                if p[5] & 0x10 != 0 {
                    pcr = UInt64(p[6]) << 25 | UInt64(p[7]) << 17 | UInt64(p[8]) << 9 | UInt64(p[9]) << 1 | UInt64(p[10] >> 7)
                }
                for k in (6 + (pcr == nil ? 0 : 6))..<(5 + length) where p[k] != 0xFF {
                    problems.append("stuffing byte \(p[k]) at \(offset + k)")
                    break
                }
            }
            i = 5 + length
        }
        guard afc & 0x01 != 0 else { return }
        let payload = Array(p[i...])
        if pid == 0 || pid == 0x1000 {
            section(payload, pid: pid, at: offset)
            return
        }
        if unitStart {
            if let previous = open[pid] { close(previous) }
            guard payload.count >= 9, payload[0] == 0, payload[1] == 0, payload[2] == 1 else {
                problems.append("no PES start code at \(offset)")
                return
            }
            let flags = payload[7]
            let headerLength = Int(payload[8])
            var pes = PES(pid: pid, streamID: payload[3], declaredLength: Int(payload[4]) << 8 | Int(payload[5]),
                          headerLength: headerLength, randomAccess: randomAccess, pcr: pcr)
            if flags & 0x80 != 0 { pes.pts = Self.timestamp(payload[9...]) }
            if flags & 0x40 != 0 { pes.dts = Self.timestamp(payload[14...]) }
            pes.data = Array(payload[(9 + headerLength)...])
            open[pid] = pes
        } else if open[pid] != nil {
            open[pid]?.data += payload
        } else {
            problems.append("payload without a PES start on PID \(pid) at \(offset)")
        }
    }

    private mutating func close(_ p: PES) {
        if p.declaredLength != 0 && p.declaredLength != 3 + p.headerLength + p.data.count {
            problems.append("PES_packet_length \(p.declaredLength) for \(3 + p.headerLength + p.data.count) bytes on PID \(p.pid)")
        }
        pes.append(p)
    }

    private mutating func section(_ payload: [UInt8], pid: UInt16, at offset: Int) {
        let start = 1 + Int(payload[0])
        guard payload.count >= start + 3 else { problems.append("short section at \(offset)"); return }
        let length = Int(payload[start + 1] & 0x0F) << 8 | Int(payload[start + 2])
        guard start + 3 + length <= payload.count else { problems.append("section overruns at \(offset)"); return }
        let section = Array(payload[start..<(start + 3 + length)])
        let crc = section.withUnsafeBytes { MPEG2CRC32Check.checksum($0) }
        if crc != 0 { problems.append("bad CRC on PID \(pid) at \(offset)") }
        if pid == 0 {
            pats += 1
            let pmtPID = UInt16(section[10] & 0x1F) << 8 | UInt16(section[11])
            if section[8] << 8 | section[9] != 1 || pmtPID != 0x1000 { problems.append("PAT does not point at program 1/0x1000") }
        } else {
            pmtVersion = section[5] >> 1 & 0x1F
            pcrPID = UInt16(section[8] & 0x1F) << 8 | UInt16(section[9])
            var k = 12 + (Int(section[10] & 0x0F) << 8 | Int(section[11]))
            pmt = []
            while k + 5 <= section.count - 4 {
                pmt.append((section[k], UInt16(section[k + 1] & 0x1F) << 8 | UInt16(section[k + 2])))
                k += 5 + (Int(section[k + 3] & 0x0F) << 8 | Int(section[k + 4]))
            }
        }
    }

    static func timestamp(_ b: ArraySlice<UInt8>) -> UInt64 {
        let s = b.startIndex
        return UInt64(b[s] >> 1 & 0x07) << 30 | UInt64(b[s + 1]) << 22 | UInt64(b[s + 2] >> 1) << 15
            | UInt64(b[s + 3]) << 7 | UInt64(b[s + 4] >> 1)
    }
}

/// An independent bitwise CRC-32/MPEG-2 for the tests (the muxer's is table-driven).
enum MPEG2CRC32Check {
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? crc << 1 ^ 0x04C1_1DB7 : crc << 1 }
        }
        return crc
    }
}

/// Tracks and packets as ffmpeg made them: an MP4 written by ffmpeg, read back through
/// `ffprobe -show_data` (the packets in file order with their AVCC/raw payloads and times).
struct FFmpegClip {
    var streams: [AVStream] = []
    var packets: [AVPacket] = []

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// `seconds` of testsrc video (`encoder`: libx264 or libx265, with B-frames, GOP of 25) and
    /// a 44.1 kHz stereo AAC tone, 320x240 at 25 fps.
    static func make(encoder: String, seconds: Int = 2, in dir: URL) throws -> FFmpegClip {
        let mp4 = dir.appendingPathComponent("\(encoder).mp4").path
        try FFmpegTool.run(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi",
                            "-i", "sine=frequency=440:sample_rate=44100", "-t", "\(seconds)",
                            "-c:v", encoder, "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p"]
                           + (encoder == "libx265" ? ["-tag:v", "hvc1", "-x265-params", "log-level=error"] : [])
                           + ["-c:a", "aac", "-ac", "2", "-shortest", mp4])
        let json = try runTool("ffprobe", ["-v", "error", "-show_streams", "-show_packets", "-show_data", "-of", "json", mp4])
        guard let root = try JSONSerialization.jsonObject(with: json) as? [String: Any],
              let streams = root["streams"] as? [[String: Any]], let packets = root["packets"] as? [[String: Any]] else {
            throw Failure(description: "ffprobe JSON without streams/packets")
        }
        var clip = FFmpegClip()
        for s in streams {
            guard let index = s["index"] as? Int, let tb = (s["time_base"] as? String)?.split(separator: "/").last.flatMap({ Int($0) }),
                  let extradata = s["extradata"] as? String else { throw Failure(description: "stream without time_base/extradata") }
            let record = ByteBuffer(bytes: hexDump(extradata))
            switch s["codec_name"] as? String {
            case "h264": clip.streams.append(try .h264(index: index, timebase: tb, avcRecord: record))
            case "hevc": clip.streams.append(try .h265(index: index, timebase: tb, hvcRecord: record))
            case "aac": clip.streams.append(try .aac(index: index, timebase: tb, asc: record))
            case let other: throw Failure(description: "unexpected codec \(other ?? "?")")
            }
        }
        for p in packets {
            guard let index = p["stream_index"] as? Int, let dts = p["dts"] as? Int, let pts = p["pts"] as? Int,
                  let data = p["data"] as? String, let flags = p["flags"] as? String,
                  let stream = clip.streams.first(where: { $0.index == index }) else { throw Failure(description: "odd packet \(p)") }
            // One second later, as the relay's MediaClock would keep them ≥ 0 (ffmpeg starts B-frame video at -2 frames).
            let shift = Int64(stream.timebase)
            clip.packets.append(AVPacket(streamIndex: index, codec: stream.codec, dts: Int64(dts) + shift, pts: Int64(pts) + shift,
                                         isKeyFrame: flags.hasPrefix("K"), payload: ByteBuffer(bytes: hexDump(data))))
        }
        return clip
    }

    func count(_ codec: CodecID) -> Int { packets.filter { $0.codec == codec }.count }

    /// The clip through a muxer as a TransStream with a window of 0 would: header, then each
    /// packet's bytes (`cut`: the byte offset of each video key frame's output).
    func mux(_ muxer: some Muxer) -> (bytes: ByteBuffer, keyFrameOffsets: [Int]) {
        var out = ByteBuffer()
        muxer.writeHeader(streams: streams, into: &out)
        var offsets: [Int] = []
        for p in packets {
            guard let s = streams.first(where: { $0.index == p.streamIndex }) else { continue }
            if p.isVideo && p.isKeyFrame { offsets.append(out.writerIndex) }
            muxer.mux(p, stream: s, into: &out)
        }
        return (out, offsets)
    }

    /// ffprobe's hex dump lines ("00000000: 0000 02ab 0605 …  ascii") to bytes.
    static func hexDump(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for line in text.split(separator: "\n") {
            let chars = Array(line)
            guard chars.count > 10 else { continue }
            let hex = String(chars[10..<min(chars.count, 50)]).replacingOccurrences(of: " ", with: "")
            var i = hex.startIndex
            while let j = hex.index(i, offsetBy: 2, limitedBy: hex.endIndex), i < j, let b = UInt8(hex[i..<j], radix: 16) {
                out.append(b)
                i = j
            }
        }
        return out
    }
}

/// Runs a tool from PATH and returns its stdout; throws with its stderr if it fails.
func runTool(_ name: String, _ args: [String]) throws -> Data {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [name] + args
    let out = Pipe()
    let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("ts-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errFile) }
    p.standardOutput = out
    p.standardError = try FileHandle(forWritingTo: errFile)
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
    guard p.terminationStatus == 0 else { throw FFmpegClip.Failure(description: "\(name) \(args): \(err)") }
    if !err.isEmpty { throw FFmpegClip.Failure(description: "\(name) printed: \(err)") }
    return data
}

/// A fresh temporary directory, removed by the caller.
func makeTempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ts-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
