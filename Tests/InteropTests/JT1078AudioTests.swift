import Foundation
import NIOCore
import RelayCore
import RelayJT1078
import Testing

/// Terminal audio end to end: a JT/T 1078 terminal sends H.264 with G.726 or IMA ADPCM made by
/// ffmpeg, the relay transcodes it to G.711 A-law, ffprobe sees pcm_alaw over RTMP and RTSP, and
/// ffmpeg's decode of what a player receives is compared with the original signal.
@Suite(.serialized)
struct JT1078AudioTests {
    /// 6 s at 8 kHz, a 300 → 1900 Hz sweep at -10 dBFS: every position in the loop is unique,
    /// so a player's capture can be lined up with it. The SNR floors below sit about 6 dB under
    /// what was measured (a capture lands on a different part of the sweep each run, and ADPCM
    /// does worse at its high end); a wrong decode is near 0 dB.
    static let seconds = 6
    static let chirp = "aevalsrc=0.3*sin(2*PI*(300*t+133.3333*t*t)):s=8000:d=\(seconds)"

    @Test func g726From1078IsHeardAsALawOverRTMPAndHTTPFLV() async throws {
        let media = try await JTAudioMedia.shared.media(.g726(bitRate: 32000))
        let r = try await Self.run(media, sim: "13900000726")
        #expect(r.log.contains("G.726-32 audio is transcoded to G.711 A-law (bit rate inferred from 160-byte frames every 40 ms, le packing)"),
                "\(r.log)")
        print("JT/T 1078 G.726-32 → relay → G.711 A-law → ffmpeg: SNR \(String(format: "%.1f", r.rtmp)) dB (RTMP), "
              + "\(String(format: "%.1f", r.flv)) dB (HTTP-FLV) against the original")
        #expect(r.rtmp >= 26 && r.flv >= 26, "SNR \(r.rtmp) / \(r.flv) dB")
    }

    /// A terminal that packs G.726 big-endian (ITU-T / AAL2 order, ffmpeg `g726`), with
    /// `jt1078.g726_packing` "be" and a fixed `g726_bitrate`: the config reaches the ingest.
    @Test func g726BigEndianWithItsConfig() async throws {
        let video = try await JTAudioMedia.shared.video()
        var media = try JT1078SendMedia.load(video: video)
        let path = try await JTAudioMedia.shared.cache.make("chirp_32_be.g726", ["-f", "lavfi", "-i", Self.chirp,
                                                                                 "-c:a", "g726", "-b:a", "32000", "-f", "g726"])
        let data = try #require(FileManager.default.contents(atPath: path))
        try media.addTerminalAudio(ByteBuffer(bytes: data), .g726(bitRate: 32000))
        let r = try await Self.run(media, sim: "13900000727", jt1078: #", "g726_packing": "be", "g726_bitrate": 32000"#)
        #expect(r.log.contains("G.726-32 audio is transcoded to G.711 A-law") && r.log.contains("be packing"), "\(r.log)")
        print("JT/T 1078 G.726-32 big-endian → relay → G.711 A-law → ffmpeg: SNR \(String(format: "%.1f", r.rtmp)) dB (RTMP)")
        #expect(r.rtmp >= 26 && r.flv >= 26, "SNR \(r.rtmp) / \(r.flv) dB")
    }

    @Test func imaADPCMFrom1078IsHeardAsALaw() async throws {
        let media = try await JTAudioMedia.shared.media(.adpcm)
        let r = try await Self.run(media, sim: "13900000026")
        #expect(r.log.contains("IMA ADPCM audio is transcoded to G.711 A-law (low nibble first, WAV layout, detected)"), "\(r.log)")
        print("JT/T 1078 IMA ADPCM → relay → G.711 A-law → ffmpeg: SNR \(String(format: "%.1f", r.rtmp)) dB (RTMP), "
              + "\(String(format: "%.1f", r.flv)) dB (HTTP-FLV) against the original")
        #expect(r.rtmp >= 15 && r.flv >= 15, "SNR \(r.rtmp) / \(r.flv) dB")
    }

    /// `relay-bench jt-send --audio-codec g726-24` with the HiSilicon header before each frame.
    @Test func g726FromJTSendWithHiSiliconHeaders() async throws {
        let server = try await TestServer.start()
        let video = try await JTAudioMedia.shared.video()
        let audio = try await JTAudioMedia.shared.file(.g726(bitRate: 24000))
        let sender = try ProductBinary.bench.start([
            "jt-send", "--video", video, "--audio", audio, "--audio-codec", "g726-24", "--host", "127.0.0.1",
            "--port", String(server.jtPort), "--sim", "13900000024", "--loop", "--duration", "30", "--hisilicon",
        ])
        defer { sender.terminate() }
        let stream = "13900000024/1"
        #expect(await server.waitPlayable(stream), "jt-send: \(sender.stderr)")
        let snr = try await Self.captureSNR(server.rtmpURL(stream))
        print("jt-send G.726-24 (HiSilicon headers) → relay → G.711 A-law → ffmpeg: SNR \(String(format: "%.1f", snr)) dB (RTMP)")
        #expect(snr >= 21, "SNR \(snr) dB")
        #expect(await server.log.eventually("G.726-24 audio is transcoded to G.711 A-law"))
        #expect(await server.log.eventually("HiSilicon"))
        sender.signal(SIGINT)
        #expect(await sender.wait(seconds: 10) == 0, "jt-send: \(sender.stderr)")
        await server.stop()
    }

    // MARK: helpers

    static func run(_ media: JT1078SendMedia, sim: String, jt1078: String = "") async throws -> (rtmp: Double, flv: Double, log: String) {
        let server = try await TestServer.start(jt1078: jt1078)
        let sender = JT1078Tests.send(media, JT1078SendOptions(version: .v2016, sim: sim, channels: [1], loop: true),
                                      port: server.jtPort)
        defer { sender.cancel() }
        let stream = "\(sim)/1"
        #expect(await server.waitPlayable(stream))
        let tracks = await server.server.context.registry.source(stream)?.streams ?? []
        #expect(tracks.map(\.codec) == [.h264, .g711a], "\(tracks)")
        for (url, rtsp) in [(server.rtmpURL(stream), false), (server.rtspURL(stream), true)] {
            let probe = try await JT1078Tests.probe(url, rtsp: rtsp)
            #expect(probe.out.contains("codec_name=pcm_alaw|sample_rate=8000|channels=1"), "\(url): \(probe.out) \(probe.err)")
        }
        async let rtmp = captureSNR(server.rtmpURL(stream))
        async let flv = captureSNR(server.flvURL(stream))
        let result = (try await rtmp, try await flv, server.log.lines.joined(separator: "\n"))
        sender.cancel()
        await server.stop()
        return result
    }

    /// ffmpeg plays `url` for 3 s and decodes its audio to PCM; the capture is lined up with the
    /// looping original (best correlation) and its SNR measured, leaving out the first 0.5 s and
    /// 0.25 s after each loop start (the decoder's state meets a freshly started encoder there).
    static func captureSNR(_ url: String) async throws -> Double {
        let out = NSTemporaryDirectory() + "liverelay-jtaudio-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).s16"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try await ChildProcess.run("ffmpeg", ["-v", "error", "-y", "-i", url, "-vn", "-t", "3", "-ac", "1", "-ar", "8000",
                                                      "-f", "s16le", out], timeout: 30)
        #expect(r.status == 0, "ffmpeg \(url): \(r.err)")
        let captured = try samples(out)
        let original = try await JTAudioMedia.shared.original()
        return snr(captured: captured, original: original)
    }

    static func samples(_ path: String) throws -> [Int16] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return stride(from: 0, to: data.count - 1, by: 2).map { Int16(bitPattern: UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8) }
    }

    static func snr(captured: [Int16], original: [Int16]) -> Double {
        let loop = original.count
        let start = 4000  // 0.5 s
        let window = 256
        guard loop > 0, captured.count > start + window else { return -99 }
        let x = captured.map(Double.init)
        let o = original.map(Double.init)
        var best = (offset: 0, score: -Double.infinity)
        for k in 0..<loop {
            var dot = 0.0
            var energy = 0.0
            for i in 0..<window {
                let v = o[(k + i) % loop]
                dot += x[start + i] * v
                energy += v * v
            }
            let score = dot / max(energy.squareRoot(), 1)
            if score > best.score { best = (k, score) }
        }
        var signal = 0.0
        var noise = 0.0
        for i in start..<x.count {
            let position = (best.offset + i - start) % loop
            if position < 2000 { continue }
            let d = x[i] - o[position]
            signal += o[position] * o[position]
            noise += d * d
        }
        return noise == 0 ? 99 : 10 * log10(signal / noise)
    }
}

/// The chirp and its terminal encodings, made with ffmpeg once per test run.
actor JTAudioMedia {
    static let shared = JTAudioMedia()
    let cache = MediaCache("jt1078-audio")
    private var pcm: [Int16]?

    func original() async throws -> [Int16] {
        if let pcm { return pcm }
        let path = try await cache.make("chirp.s16", ["-f", "lavfi", "-i", JT1078AudioTests.chirp, "-f", "s16le"])
        let s = try JT1078AudioTests.samples(path)
        pcm = s
        return s
    }

    /// Raw G.726 as terminals pack it (RFC 3551, ffmpeg g726le) or an adpcm_ima_wav WAV file.
    func file(_ kind: JT1078SendMedia.TerminalAudio) async throws -> String {
        switch kind {
        case .g726(let rate):
            return try await cache.make("chirp_\(rate / 1000).g726", ["-f", "lavfi", "-i", JT1078AudioTests.chirp,
                                                                      "-c:a", "g726le", "-b:a", "\(rate)", "-f", "g726le"])
        case .adpcm:
            return try await cache.make("chirp_ima.wav", ["-f", "lavfi", "-i", JT1078AudioTests.chirp,
                                                          "-c:a", "adpcm_ima_wav", "-block_size", "256"])
        }
    }

    /// 720p25 H.264 of our own (not JTMedia's: a cache shared with suites running at the same
    /// time could hand out a file another caller's ffmpeg is still writing).
    func video() async throws -> String {
        try await cache.annexB(.h264, stem: "jt_audio_720p", size: "1280x720", seconds: 4, bitrate: "1M")
    }

    func media(_ kind: JT1078SendMedia.TerminalAudio) async throws -> JT1078SendMedia {
        let video = try await video()
        var media = try JT1078SendMedia.load(video: video)
        let audio = try await file(kind)
        guard let data = FileManager.default.contents(atPath: audio) else { throw TestMedia.MediaError(message: "no \(audio)") }
        try media.addTerminalAudio(ByteBuffer(bytes: data), kind)
        return media
    }
}
