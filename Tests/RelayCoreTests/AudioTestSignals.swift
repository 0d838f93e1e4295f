import Foundation
import NIOCore
import RelayTestSupport

/// Audio made and decoded by ffmpeg for the codec tests (a clone has no shared media): a
/// speech-band chirp, its encodings, and ffmpeg's own decodes to compare ours with.
enum AudioTestSignals {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static let dir: String = {
        let d = NSTemporaryDirectory() + "relay-core-audio-\(getpid())"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    /// 2 s at 8 kHz: a sweep from 300 to 1900 Hz at -10 dBFS (speech band and level).
    static let chirp = "aevalsrc=0.3*sin(2*PI*(300*t+400*t*t)):s=8000:d=2"

    static func ffmpeg(_ args: [String]) throws { try FFmpegTool.run(args) }

    static func path(_ name: String) -> String { "\(dir)/\(name)" }

    static func read(_ name: String) throws -> ByteBuffer {
        guard let data = FileManager.default.contents(atPath: path(name)) else { throw Failure(description: "no \(name)") }
        return ByteBuffer(bytes: data)
    }

    /// The chirp as raw s16le in chirp.s16 (made once, whichever test asks first).
    static func original() throws -> [Int16] { try made.get() }

    private static let made = Result<[Int16], any Error> {
        try ffmpeg(["-f", "lavfi", "-i", chirp, "-c:a", "pcm_s16le", "-f", "s16le", path("chirp.s16")])
        return samples(try read("chirp.s16"))
    }

    /// Little-endian 16-bit samples of a buffer.
    static func samples(_ buffer: ByteBuffer) -> [Int16] {
        var b = buffer
        var out: [Int16] = []
        out.reserveCapacity(b.readableBytes / 2)
        while let s = b.readInteger(endianness: .little, as: Int16.self) { out.append(s) }
        return out
    }

    /// Signal-to-noise ratio of `test` against `reference` in dB over their common length
    /// (`skip` samples left out at the start); 99 when equal.
    static func snr(_ reference: [Int16], _ test: [Int16], skip: Int = 0) -> Double {
        let n = min(reference.count, test.count)
        guard n > skip else { return -99 }
        var signal = 0.0
        var noise = 0.0
        for i in skip..<n {
            let r = Double(reference[i])
            let d = r - Double(test[i])
            signal += r * r
            noise += d * d
        }
        return noise == 0 ? 99 : 10 * log10(signal / noise)
    }
}
