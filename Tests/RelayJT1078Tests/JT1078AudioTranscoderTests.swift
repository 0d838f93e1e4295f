import Foundation
import NIOCore
import RelayCore
import Testing
@testable import RelayJT1078

/// Terminal ADPCM through the stream demuxer: G.726 bit-rate inference, IMA ADPCM nibble-order
/// detection on ffmpeg's blocks, the A-law track, config keys.
@Suite struct JT1078AudioTranscoderTests {
    static func frame(_ body: ByteBuffer, pt: UInt8, ts: UInt64) -> JT1078Frame {
        JT1078DemuxerTests.frame(body, pt: pt, ts: ts, type: .audio)
    }

    static func run(_ frames: [JT1078Frame], _ demuxer: inout JT1078StreamDemuxer)
        -> (streams: [AVStream], packets: [AVPacket], notices: [String]) {
        JT1078DemuxerTests.run(frames, demuxer: &demuxer)
    }

    static func noise(_ count: Int, seed: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ Int(seed) &* 11) })
    }

    @Test(arguments: [(2, 80), (3, 120), (4, 160), (5, 200)])
    func g726BitRateIsInferredAndTheFirstFrameKept(bits: Int, bytes: Int) throws {
        var d = JT1078StreamDemuxer()
        let frames = (0..<4).map { Self.frame(Self.noise(bytes, seed: UInt8($0)), pt: JT1078PayloadType.g726, ts: 1000 + UInt64($0) * 40) }
        let r = Self.run(frames, &d)
        #expect(r.streams.map(\.codec) == [.g711a])
        #expect(r.packets.map(\.dts) == [0, 40, 80, 120])
        #expect(r.packets.allSatisfy { $0.codec == .g711a && $0.payload.readableBytes == 320 })
        let notice = try #require(r.notices.first { $0.contains("G.726") })
        #expect(notice.contains("G.726-\(bits * 8) audio is transcoded to G.711 A-law"), "\(notice)")
        #expect(notice.contains("\(bytes)-byte frames every 40 ms, le packing"), "\(notice)")
        #expect(d.audioFrames == 4 && d.droppedFrames == 0)
    }

    @Test func g726BitRateFromConfigNeedsNoSecondFrame() {
        var d = JT1078StreamDemuxer(audio: JT1078AudioSettings(g726Packing: .be, g726BitRate: 16000))
        let r = Self.run([Self.frame(Self.noise(160, seed: 1), pt: JT1078PayloadType.g726, ts: 7)], &d)
        #expect(r.packets.count == 1 && r.packets.first?.payload.readableBytes == 640)
        #expect(r.notices.contains { $0.contains("G.726-16") && $0.contains("jt1078.g726_bitrate, be packing") })
    }

    @Test func g726WithoutAUsableIntervalIsDroppedAndSaysWhy() {
        var d = JT1078StreamDemuxer()
        // 3 bytes every 40 ms is no G.726 rate; the same timestamp twice gives no interval.
        let frames = (0..<60).map { Self.frame(Self.noise(3, seed: UInt8($0)), pt: JT1078PayloadType.g726, ts: UInt64($0 / 2) * 40) }
        let r = Self.run(frames, &d)
        #expect(r.packets.isEmpty && r.streams.isEmpty)
        #expect(r.notices.contains { $0.contains("set jt1078.g726_bitrate") })
        #expect(d.droppedFrames == 59)  // the last one is still held
    }

    @Test func inference() {
        #expect(JT1078AudioTranscoder.inferBits(bytes: 160, intervalMs: 40) == 4)
        #expect(JT1078AudioTranscoder.inferBits(bytes: 80, intervalMs: 20) == 4)
        #expect(JT1078AudioTranscoder.inferBits(bytes: 80, intervalMs: 40) == 2)
        #expect(JT1078AudioTranscoder.inferBits(bytes: 100, intervalMs: 21) == 5)  // a jittery clock
        #expect(JT1078AudioTranscoder.inferBits(bytes: 100, intervalMs: 0) == nil)
        #expect(JT1078AudioTranscoder.inferBits(bytes: 70, intervalMs: 20) == nil)
        #expect(JT1078AudioTranscoder.inferBits(bytes: 100, intervalMs: .max) == nil)
    }

    // MARK: IMA ADPCM

    /// ffmpeg's adpcm_ima_wav blocks of a 1 kHz-ish chirp, and the same blocks in the DVI
    /// layout (nibbles swapped).
    static func imaBlocks() throws -> (wav: [ByteBuffer], dvi: [ByteBuffer]) {
        let dir = NSTemporaryDirectory() + "relay-jt-audio-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/ima.wav"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                       "aevalsrc=0.3*sin(2*PI*(300*t+400*t*t)):s=8000:d=2", "-c:a", "adpcm_ima_wav", "-block_size", "256", path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let data = try #require(FileManager.default.contents(atPath: path))
        let wav = try WAVFile(parsing: ByteBuffer(bytes: data)).blocks
        let dvi = wav.map { block in
            var out = ByteBuffer()
            out.writeBytes(block.readableBytesView.prefix(4))
            for byte in block.readableBytesView.dropFirst(4) { out.writeInteger(byte << 4 | byte >> 4) }
            return out
        }
        return (wav, dvi)
    }

    @Test func imaNibbleOrderIsDetectedBothWays() throws {
        let (wav, dvi) = try Self.imaBlocks()
        for (blocks, expected, samples) in [(wav, "low nibble first, WAV layout", 505), (dvi, "high nibble first, DVI layout", 504)] {
            var d = JT1078StreamDemuxer()
            let r = Self.run(blocks.enumerated().map { Self.frame($1, pt: JT1078PayloadType.adpcm, ts: UInt64($0) * 63) }, &d)
            let notice = r.notices.first { $0.contains("IMA ADPCM") }
            #expect(notice == "IMA ADPCM audio is transcoded to G.711 A-law (\(expected), detected)")
            #expect(r.streams.map(\.codec) == [.g711a] && r.packets.count == blocks.count)
            // Once decided, every block has its layout's sample count.
            #expect(r.packets.suffix(blocks.count - 10).allSatisfy { $0.payload.readableBytes == samples })
        }
    }

    /// Silence says nothing about the order: the stream is decoded as WAV meanwhile and the
    /// detection goes on until speech tells.
    @Test func imaSilenceDoesNotDecideTheOrder() throws {
        let (_, dvi) = try Self.imaBlocks()
        let silence = ByteBuffer(bytes: [0, 0, 0, 0] + Array(repeating: 0x08, count: 252))
        var d = JT1078StreamDemuxer()
        let frames = (0..<60).map { _ in silence } + dvi
        let r = Self.run(frames.enumerated().map { Self.frame($1, pt: JT1078PayloadType.adpcm, ts: UInt64($0) * 63) }, &d)
        #expect(r.notices.contains { $0.hasPrefix("IMA ADPCM nibble order not detected yet") })
        #expect(r.notices.contains("IMA ADPCM audio is transcoded to G.711 A-law (high nibble first, DVI layout, detected)"))
        #expect(r.packets.count == frames.count && r.packets.last?.payload.readableBytes == 504)
    }

    @Test func imaOrderFromConfigAndShortFrames() throws {
        var d = JT1078StreamDemuxer(audio: JT1078AudioSettings(adpcmNibbles: .highFirst))
        let r = Self.run([Self.frame(ByteBuffer(bytes: [0, 0, 10, 0, 0x12, 0x34]), pt: JT1078PayloadType.adpcm, ts: 0),
                          Self.frame(ByteBuffer(bytes: [0, 0, 10]), pt: JT1078PayloadType.adpcm, ts: 40)], &d)
        #expect(r.packets.map { $0.payload.readableBytes } == [4])
        #expect(r.notices.contains("IMA ADPCM audio is transcoded to G.711 A-law (high nibble first, DVI layout, from jt1078.adpcm_nibbles)"))
        #expect(r.notices.contains { $0.contains("without samples after the 4-byte block header") })
        #expect(d.droppedFrames == 1)
    }

    @Test func oversizedAndRandomFramesNeverTrap() {
        var rng = SystemRandomNumberGenerator()
        var d = JT1078StreamDemuxer()
        var events: [MediaEvent] = []
        for i in 0..<400 {
            let pt = Bool.random(using: &rng) ? JT1078PayloadType.g726 : JT1078PayloadType.adpcm
            let size = Int.random(in: 0...1200, using: &rng)
            let body = ByteBuffer(bytes: (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) })
            d.frame(Self.frame(body, pt: pt, ts: UInt64(i) * UInt64.random(in: 0...80, using: &rng)), into: &events)
        }
        d.frame(Self.frame(ByteBuffer(repeating: 0x11, count: JT1078AudioTranscoder.maxFrameBytes + 1), pt: JT1078PayloadType.adpcm, ts: 0),
                into: &events)
        #expect(events.contains { if case .notice(let n) = $0 { n.contains("over \(JT1078AudioTranscoder.maxFrameBytes) bytes") } else { false } })
    }

    // MARK: config

    @Test func configKeys() throws {
        let defaults = RelayConfig.default.jt1078
        #expect(defaults.g726Packing == "le" && defaults.g726BitRate == 0 && defaults.adpcmNibbles == "auto")
        #expect(defaults.audio == JT1078AudioSettings())
        let c = try RelayConfig.parse(Data("""
            {"jt1078": {"g726_packing": "be", "g726_bitrate": 24000, "adpcm_nibbles": "high-first"}}
            """.utf8), sections: [JT1078Config.self])
        #expect(c.jt1078.audio == JT1078AudioSettings(g726Packing: .be, g726BitRate: 24000, adpcmNibbles: .highFirst))
        let auto = try RelayConfig.parse(Data(#"{"jt1078": {"g726_bitrate": "auto", "adpcm_nibbles": "low-first"}}"#.utf8),
                                         sections: [JT1078Config.self])
        #expect(auto.jt1078.audio == JT1078AudioSettings(adpcmNibbles: .lowFirst))
        for bad in [#"{"g726_packing": "msb"}"#, #"{"g726_bitrate": 32}"#, #"{"g726_bitrate": "32k"}"#,
                    #"{"g726_bitrate": 32000.5}"#, #"{"adpcm_nibbles": "high"}"#] {
            #expect(throws: ConfigError.self, "\(bad)") {
                _ = try RelayConfig.parse(Data(#"{"jt1078": \#(bad)}"#.utf8), sections: [JT1078Config.self])
            }
        }
    }
}

/// The terminal side: G.726 and IMA ADPCM files become frames with payload types 8 and 26.
@Suite struct JT1078TerminalAudioSenderTests {
    @Test func names() throws {
        typealias T = JT1078SendMedia.TerminalAudio
        #expect(try T(name: "g726") == .g726(bitRate: 32000))
        #expect(try T(name: "G726-24") == .g726(bitRate: 24000))
        #expect(try T(name: "g726le_40") == .g726(bitRate: 40000))
        #expect(try T(name: "g726-16") == .g726(bitRate: 16000))
        #expect(try T(name: "adpcm") == .adpcm && T(name: "wav") == .adpcm)
        #expect(try T(name: "alaw") == nil && T(name: "aac") == nil)
        #expect(throws: JT1078SendMedia.LoadError.self) { try T(name: "g726-48") }
    }

    @Test func g726FramesGoOutAsPayloadType8() throws {
        var media = try JT1078SendMedia.make(annexB: Fixtures.keyFrameH264(), codec: .h264)
        try media.addTerminalAudio(ByteBuffer(repeating: 0x5A, count: 1000), .g726(bitRate: 32000), frameMs: 40)
        #expect(media.audioFrames.map(\.readableBytes) == Array(repeating: 160, count: 6))
        #expect(media.audioFrameSeconds == 0.04 && media.audioPayloadType == JT1078PayloadType.g726)
        var schedule = try JT1078Schedule(media: media, options: JT1078SendOptions(fps: 1))
        var types: [UInt8] = []
        while let step = schedule.next() {
            if !step.isVideo, let mpt = step.bytes.getInteger(at: step.bytes.readerIndex + 5, as: UInt8.self) { types.append(mpt & 0x7F) }
        }
        #expect(types == Array(repeating: JT1078PayloadType.g726, count: 6))
        #expect(throws: JT1078SendMedia.LoadError.self) {
            try media.addTerminalAudio(ByteBuffer(repeating: 0, count: 100), .g726(bitRate: 40000), frameMs: 40)
        }
        #expect(throws: JT1078SendMedia.LoadError.self) {
            try media.addTerminalAudio(ByteBuffer(repeating: 0, count: 100), .adpcm)
        }
    }
}
