import Foundation
import NIOCore
import RelayCore
import RelayRTP
import RelayTestSupport

/// Parameter sets of tiny real streams (x264 / x265, 64x48) and fake slices around them.
enum Fixtures {
    static let h264SPS = hexBuffer("6742c00ad9047b011000000300100000030320f1226480")
    static let h264PPS = hexBuffer("68cb83cb20")
    static let h265VPS = hexBuffer("40010c01ffff01600000030090000003000003001e959809")
    static let h265SPS = hexBuffer("42010101600000030090000003000003001ea02083165959ae4caf016808000003000800000300c840")
    static let h265PPS = hexBuffer("4401c173d089")

    /// Slice-like NAL payload: never two zero bytes in a row (no false start codes).
    static func body(_ n: Int, seed: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: 1 + ($0 &* 31 &+ seed &* 17) % 254) }
    }

    /// H.264 access unit: SPS, PPS and an IDR for key frames, else one P slice (first_mb 0).
    static func h264Frame(_ i: Int, key: Bool, size: Int = 3000) -> [ByteBuffer] {
        let slice = ByteBuffer(bytes: [key ? 0x65 : 0x41, 0x88] + body(size, seed: i))
        return key ? [h264SPS, h264PPS, slice] : [slice]
    }

    /// H.265 access unit: VPS, SPS, PPS and an IDR_W_RADL for key frames, else a TRAIL_R slice.
    static func h265Frame(_ i: Int, key: Bool, size: Int = 3000) -> [ByteBuffer] {
        let slice = ByteBuffer(bytes: (key ? [0x26, 0x01] : [0x02, 0x01]) + [0x80] + body(size, seed: i))
        return key ? [h265VPS, h265SPS, h265PPS, slice] : [slice]
    }

    /// `nals` as an elementary stream with 4-byte start codes (what a PES of a camera carries).
    static func annexB(_ nals: [ByteBuffer]) -> ByteBuffer {
        var es = ByteBuffer()
        for nal in nals {
            es.writeBytes([0, 0, 0, 1])
            es.writeImmutableBuffer(nal)
        }
        return es
    }

    /// The AVCC payload the demuxer should produce for `nals`.
    static func avcc(_ nals: [ByteBuffer]) -> ByteBuffer {
        AnnexB.lengthPrefixed(nals)
    }

    /// A GB28181-style program stream: one pack per frame (map on key frames), 40 ms G.711
    /// packs in between when `audio`.
    static func program(frames: Int, gop: Int = 5, codec: CodecID = .h264, audio: CodecID? = .g711a,
                        ptsStart: Int64 = 90000, configure: (inout PSMuxer) -> Void = { _ in }) -> (ps: [ByteBuffer], nals: [[ByteBuffer]]) {
        var muxer = PSMuxer(video: codec, audio: audio)
        configure(&muxer)
        var out: [ByteBuffer] = []
        var all: [[ByteBuffer]] = []
        for i in 0..<frames {
            let key = i % gop == 0
            let nals = codec == .h264 ? h264Frame(i, key: key) : h265Frame(i, key: key)
            all.append(nals)
            var b = ByteBuffer()
            muxer.writeVideo(nals: nals, pts: ptsStart + Int64(i) * 3600, isKey: key, into: &b)
            out.append(b)
            if audio != nil {
                var a = ByteBuffer()
                muxer.writeAudio(ByteBuffer(bytes: [UInt8](repeating: 0xD5, count: 320)), pts: ptsStart + Int64(i) * 3600, into: &a)
                out.append(a)
            }
        }
        return (out, all)
    }
}

/// Everything a demuxer run produced.
struct Demuxed {
    var events: [MediaEvent] = []
    var video: [AVPacket] { events.compactMap { if case .packet(let p) = $0, p.isVideo { p } else { nil } } }
    var audio: [AVPacket] { events.compactMap { if case .packet(let p) = $0, !p.isVideo { p } else { nil } } }
    var streams: [AVStream] { events.compactMap { if case .stream(let s) = $0 { s } else { nil } } }
    var notices: [String] { events.compactMap { if case .notice(let n) = $0 { n } else { nil } } }
    var tracks: [(Bool, Bool)] { events.compactMap { if case .tracks(let v, let a) = $0 { (v, a) } else { nil } } }
}

/// Runs ffmpeg (CI installs it; a missing ffmpeg fails the test).
enum FFmpeg {
    struct Failed: Error, CustomStringConvertible { let description: String }

    static func path() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw Failed(description: "ffmpeg not found on PATH (apt-get install ffmpeg)")
    }

    /// Runs `ffmpeg -y -loglevel error ARGS OUT` and returns the output file's bytes.
    static func make(_ args: [String], suffix: String) throws -> [UInt8] {
        let out = NSTemporaryDirectory() + "relayrtp-\(getpid())-\(UUID().uuidString).\(suffix)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try path())
        p.arguments = ["-y", "-hide_banner", "-loglevel", "error"] + args + [out]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let data = FileManager.default.contents(atPath: out) else {
            throw Failed(description: "ffmpeg failed: \(String(decoding: errData, as: UTF8.self))")
        }
        return [UInt8](data)
    }
}
