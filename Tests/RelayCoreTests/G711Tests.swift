import Foundation
import NIOCore
import Testing
@testable import RelayCore

/// G.711 A-law against ffmpeg's pcm_alaw encoder and decoder, code for code.
@Suite struct G711Tests {
    /// ffmpeg's pcm_alaw encoder rounds to the nearest reconstruction level, G.711 cuts at its
    /// decision levels: the two differ by one level near segment edges only.
    @Test func encodesToG711sDecisionLevels() throws {
        let pcm = try AudioTestSignals.original()
        try AudioTestSignals.ffmpeg(["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", AudioTestSignals.path("chirp.s16"),
                                     "-c:a", "pcm_alaw", "-f", "alaw", AudioTestSignals.path("chirp.alaw")])
        let theirs = Array(try AudioTestSignals.read("chirp.alaw").readableBytesView)
        #expect(theirs.count == pcm.count)
        let ours = pcm.map(G711.alaw)
        // Codes as levels: sign, then segment and mantissa counting up from zero.
        func level(_ code: UInt8) -> Int {
            let v = code ^ 0x55
            return (v & 0x80 != 0 ? 1 : -1) * (Int(v & 0x7F) + 1)
        }
        let differing = zip(ours, theirs).filter { $0 != $1 }
        #expect(differing.allSatisfy { abs(level($0) - level($1)) == 1 }, "\(differing.prefix(10))")
        #expect(differing.count * 20 < pcm.count, "\(differing.count) of \(pcm.count) codes differ")
        let decoded = ours.map { G711.linear(alaw: $0) }
        let snr = AudioTestSignals.snr(pcm, decoded)
        print("G.711 A-law: \(differing.count) of \(pcm.count) codes one level from ffmpeg's; SNR \(String(format: "%.1f", snr)) dB")
        #expect(snr >= 35)
        // The ends and zero; G.711's decision level between segments 5 and 6 (13-bit 1024).
        #expect(G711.alaw(0) == 0xD5 && G711.alaw(-1) == 0x55)
        #expect(G711.alaw(.max) == 0xAA && G711.alaw(.min) == 0x2A)
        #expect(G711.alaw(1023 << 3) == 0x5F ^ 0xD5 && G711.alaw(1024 << 3) == 0x60 ^ 0xD5)
    }

    @Test func decodesLikeFFmpegAndRoundTrips() throws {
        #expect(FileManager.default.createFile(atPath: AudioTestSignals.path("all.alaw"), contents: Data((0...255).map { UInt8($0) })))
        try AudioTestSignals.ffmpeg(["-f", "alaw", "-ar", "8000", "-ac", "1", "-i", AudioTestSignals.path("all.alaw"),
                                     "-f", "s16le", AudioTestSignals.path("all.s16")])
        let theirs = AudioTestSignals.samples(try AudioTestSignals.read("all.s16"))
        let ours = (0...255).map { G711.linear(alaw: UInt8($0)) }
        #expect(ours == theirs)
        // Every code survives decode → encode.
        #expect((0...255).allSatisfy { G711.alaw(G711.linear(alaw: UInt8($0))) == UInt8($0) })
    }
}
