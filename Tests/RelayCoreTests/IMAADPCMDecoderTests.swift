import Foundation
import NIOCore
import Testing
@testable import RelayCore

/// IMA ADPCM: ffmpeg's adpcm_ima_wav blocks decoded by us and by ffmpeg; the DVI (high nibble
/// first) layout as the same blocks with their nibbles swapped.
@Suite struct IMAADPCMDecoderTests {
    static func ffmpegBlocks() throws -> (wav: WAVFile, theirs: [Int16]) { try made.get() }

    private static let made = Result<(wav: WAVFile, theirs: [Int16]), any Error> {
        _ = try AudioTestSignals.original()
        try AudioTestSignals.ffmpeg(["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", AudioTestSignals.path("chirp.s16"),
                                     "-c:a", "adpcm_ima_wav", "-block_size", "256", AudioTestSignals.path("chirp_ima.wav")])
        try AudioTestSignals.ffmpeg(["-i", AudioTestSignals.path("chirp_ima.wav"), "-f", "s16le",
                                     AudioTestSignals.path("chirp_ima.s16")])
        let wav = try WAVFile(parsing: try AudioTestSignals.read("chirp_ima.wav"))
        return (wav, AudioTestSignals.samples(try AudioTestSignals.read("chirp_ima.s16")))
    }

    @Test func wavBlocksMatchFFmpegsDecode() throws {
        let original = try AudioTestSignals.original()
        let (wav, theirs) = try Self.ffmpegBlocks()
        #expect(wav.formatTag == 0x11 && wav.channels == 1 && wav.sampleRate == 8000 && wav.blockAlign == 256)
        var ours: [Int16] = []
        var ends: [IMAADPCMDecoder.State] = []
        let blocks = wav.blocks
        for block in blocks {
            let end = IMAADPCMDecoder.decode(block: block, order: .lowFirst) { ours.append($0) }
            ends.append(try #require(end))
        }
        #expect(ours.count == blocks.count * 505)
        let vsFFmpeg = AudioTestSignals.snr(theirs, ours)
        // ffmpeg's encoder puts each block's first input sample in the header, as is.
        let vsOriginal = AudioTestSignals.snr(original, ours)
        print("IMA ADPCM (adpcm_ima_wav, 256-byte blocks): SNR vs ffmpeg decode \(String(format: "%.1f", vsFFmpeg)) dB, "
              + "vs original \(String(format: "%.1f", vsOriginal)) dB")
        #expect(vsFFmpeg >= 40)
        #expect(vsOriginal >= 20)
        // The encoder runs on across blocks: each block's end index is the next one's header.
        for (end, next) in zip(ends, blocks.dropFirst()) {
            let header = try #require(IMAADPCMDecoder.State(header: next))
            #expect(end.index == header.index, "\(end) → \(header)")
        }
    }

    @Test func dviLayoutIsTheSameSignalWithSwappedNibbles() throws {
        let (wav, _) = try Self.ffmpegBlocks()
        for block in wav.blocks.prefix(5) {
            var low: [Int16] = []
            var high: [Int16] = []
            let lowEnd = IMAADPCMDecoder.decode(block: block, order: .lowFirst) { low.append($0) }
            var swapped = ByteBuffer()
            swapped.writeImmutableBuffer(block.getSlice(at: block.readerIndex, length: 4) ?? ByteBuffer())
            for byte in block.readableBytesView.dropFirst(4) { swapped.writeInteger(byte << 4 | byte >> 4) }
            let highEnd = IMAADPCMDecoder.decode(block: swapped, order: .highFirst) { high.append($0) }
            #expect(Array(low.dropFirst()) == high)  // the DVI layout has no header sample
            #expect(lowEnd == highEnd)
            #expect(IMAADPCMDecoder.sampleCount(bytes: 256, order: .highFirst) == high.count)
        }
    }

    @Test func garbageNeverTraps() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var bytes = (0..<Int.random(in: 0...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if bytes.count > 2, Bool.random(using: &rng) { bytes[2] = 0xFF }  // an index far past 88
            for order in IMAADPCMDecoder.NibbleOrder.allCases {
                var count = 0
                let end = IMAADPCMDecoder.decode(block: ByteBuffer(bytes: bytes), order: order) { _ in count += 1 }
                #expect(count == IMAADPCMDecoder.sampleCount(bytes: bytes.count, order: order))
                #expect((end == nil) == (bytes.count < 4))
                if let end { #expect((0...88).contains(end.index) && (-32768...32767).contains(end.predictor)) }
            }
        }
        // Saturation both ways.
        for fill: UInt8 in [0x77, 0xFF] {
            var last: Int16 = 0
            IMAADPCMDecoder.decode(block: ByteBuffer(bytes: [0, 0, 88, 0] + Array(repeating: fill, count: 1000)), order: .lowFirst) { last = $0 }
            #expect(last == (fill == 0x77 ? .max : .min))
        }
    }
}
