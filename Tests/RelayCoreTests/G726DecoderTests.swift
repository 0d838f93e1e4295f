import Foundation
import NIOCore
import Testing
@testable import RelayCore

/// G.726 at every rate and in both packings: ffmpeg encodes a chirp, we decode it, and the
/// result is compared with ffmpeg's own decode of the same file and with the original.
@Suite struct G726DecoderTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var bitRate: Int
        var packing: G726Decoder.Packing
        /// Least SNR against the original: what the rate can do on this signal, a few dB below
        /// what ffmpeg's own decoder reaches.
        var floor: Double
        /// Least SNR against ffmpeg's decode: ffmpeg's MIX block rounds Y_L's low bits in where
        /// the Recommendation truncates, which costs most at the coarsest rate.
        var againstFFmpeg: Double
        var testDescription: String { "G.726-\(bitRate / 1000) \(packing)" }
    }

    static let cases: [Case] = [(16000, 20.0, 26.0), (24000, 25.0, 34.0), (32000, 29.0, 44.0), (40000, 28.0, 32.0)]
        .flatMap { rate, floor, againstFFmpeg in
            G726Decoder.Packing.allCases.map { Case(bitRate: rate, packing: $0, floor: floor, againstFFmpeg: againstFFmpeg) }
        }

    @Test(arguments: cases) func matchesFFmpegsDecode(_ c: Case) throws {
        let original = try AudioTestSignals.original()
        let bits = c.bitRate / 8000
        let format = c.packing == .le ? "g726le" : "g726"
        let coded = "chirp_\(bits)_\(format).raw"
        let decoded = "chirp_\(bits)_\(format).s16"
        try AudioTestSignals.ffmpeg(["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", AudioTestSignals.path("chirp.s16"),
                                     "-c:a", format, "-b:a", "\(c.bitRate)", "-f", format, AudioTestSignals.path(coded)])
        try AudioTestSignals.ffmpeg(["-f", format, "-code_size", "\(bits)", "-i", AudioTestSignals.path(coded),
                                     "-f", "s16le", AudioTestSignals.path(decoded)])
        let file = try AudioTestSignals.read(coded)
        let theirs = AudioTestSignals.samples(try AudioTestSignals.read(decoded))

        // Decoded in 40 ms frames as a terminal sends them: the state carries across frames.
        var decoder = G726Decoder(bitsPerSample: bits, packing: c.packing)
        // ffmpeg's 40 kb/s leaks the zero predictor by 2^-8, the Recommendation by 2^-9.
        decoder.zeroLeakShift = 8
        var ours: [Int16] = []
        var rest = file
        while let frame = rest.readSlice(length: min(40 * bits, rest.readableBytes)), frame.readableBytes > 0 {
            decoder.decode(frame) { ours.append($0) }
        }
        #expect(ours.count == file.readableBytes * 8 / bits)
        let vsFFmpeg = AudioTestSignals.snr(theirs, ours)
        let vsOriginal = AudioTestSignals.snr(original, ours)
        let ffmpegVsOriginal = AudioTestSignals.snr(original, theirs)
        print("G.726-\(c.bitRate / 1000) \(c.packing): SNR vs ffmpeg decode \(String(format: "%.1f", vsFFmpeg)) dB, "
              + "vs original \(String(format: "%.1f", vsOriginal)) dB (ffmpeg's decode: \(String(format: "%.1f", ffmpegVsOriginal)) dB)")
        #expect(theirs.count == ours.count)
        #expect(vsFFmpeg >= c.againstFFmpeg, "\(c): \(vsFFmpeg) dB against ffmpeg's decode")
        #expect(vsOriginal >= c.floor, "\(c): \(vsOriginal) dB against the original")

        // The other packing read from the same bytes is noise, not the signal.
        var wrong = G726Decoder(bitsPerSample: bits, packing: c.packing == .le ? .be : .le)
        var garbled: [Int16] = []
        wrong.decode(file) { garbled.append($0) }
        #expect(AudioTestSignals.snr(original, garbled) < 1, "\(c): the wrong packing decodes too well")
    }

    /// At the Recommendation's 40 kb/s leak, ffmpeg's stream (encoded with 2^-8) drifts away:
    /// the one constant the ffmpeg comparison cannot check, so it is pinned here.
    @Test func fortyKbitUsesTheRecommendationsLeak() {
        #expect(G726Decoder(bitsPerSample: 5, packing: .le).zeroLeakShift == 9)
        #expect((2...4).allSatisfy { G726Decoder(bitsPerSample: $0, packing: .le).zeroLeakShift == 8 })
    }

    @Test func bitRatesAndSampleCounts() {
        #expect([16000, 24000, 32000, 40000].map(G726Decoder.bitsPerSample(bitRate:)) == [2, 3, 4, 5])
        #expect(G726Decoder.bitsPerSample(bitRate: 32) == nil && G726Decoder.bitsPerSample(bitRate: 64000) == nil)
        #expect(G726Decoder(bitsPerSample: 3, packing: .le).sampleCount(bytes: 120) == 320)
        #expect(G726Decoder(bitsPerSample: 9, packing: .le).bitsPerSample == 5)
        #expect(G726Decoder(bitsPerSample: 0, packing: .be).bitRate == 16000)
    }

    /// Random bytes at every rate and packing: no trap, one sample per whole code word, and the
    /// output stays a 16-bit signal (the state's clamps hold).
    @Test func garbageNeverTraps() {
        var rng = SystemRandomNumberGenerator()
        for bits in 2...5 {
            for packing in G726Decoder.Packing.allCases {
                var decoder = G726Decoder(bitsPerSample: bits, packing: packing)
                for _ in 0..<200 {
                    let frame = ByteBuffer(bytes: (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
                    var count = 0
                    decoder.decode(frame) { _ in count += 1 }
                    #expect(count == frame.readableBytes * 8 / bits)
                }
                // Extremes: all ones, all zeros, long runs.
                for fill: UInt8 in [0x00, 0xFF, 0x55, 0xAA] {
                    decoder.decode(ByteBuffer(bytes: Array(repeating: fill, count: 8000))) { _ in }
                }
            }
        }
    }
}
