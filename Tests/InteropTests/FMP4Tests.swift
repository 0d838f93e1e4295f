import Foundation
import NIOCore
import RelayCore
import RelayFLV
import RelayMP4
import RelayTestSupport
import Testing

/// Fragmented MP4: the muxer's output read by ffmpeg (the muxer alone on ffmpeg-made clips, then
/// the relay's HTTP `.mp4` / `.live.mp4` and WebSocket outputs), and by our own box reader.
@Suite(.serialized)
struct FMP4Tests {
    // MARK: The muxer alone

    /// The relay's test clip (H.264 without B-frames, AAC 44.1 kHz) and a High-profile clip with
    /// B-frames (composition offsets) and AAC 48 kHz.
    static let clips = ["plain", "bframes"]

    @Test(arguments: clips)
    func anFFmpegClipMuxedToFMP4DecodesCleanlyWithItsTimestamps(_ clip: String) async throws {
        let flv = clip == "plain" ? try await TestMedia.shared.h264AACFLV() : try await Self.bFramesFLV()
        let (streams, packets) = try Self.demuxFLV(flv)
        let file = try Self.writeFMP4(streams: streams, packets: packets, name: clip)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let video = try #require(streams.first { $0.codec == .h264 }), audio = try #require(streams.first { $0.codec == .aac })

        let probe = try await FFprobe.run(file, entries: "stream=codec_name,profile,level,width,height,sample_rate,channels")
        let original = try await FFprobe.run(flv, entries: "stream=codec_name,profile,level,width,height,sample_rate,channels")
        #expect(probe.status == 0 && !probe.out.isEmpty && probe.out == original.out, "fMP4: \(probe.out) \(probe.err); FLV: \(original.out)")
        let decode = try await Self.decode(file)
        expectCleanDecode(decode.status, decode.err, "fMP4 file of \(clip)")
        #expect(decode.videoFrames == packets.filter(\.isVideo).count)

        // Every frame's decode and presentation time as ffmpeg reads them from the FLV (video
        // exactly: ms in 90 kHz; audio within the FLV's 1 ms rounding of AAC frame times).
        for (kind, tolerance) in [("v", 0.0), ("a", 0.0015)] {
            let times = try await Self.packetTimes(file, kind), expected = try await Self.packetTimes(flv, kind)
            #expect(!times.isEmpty && times.count == expected.count, "\(kind): \(times.count) vs \(expected.count)")
            let off = zip(times, expected).first { abs($0.0 - $1.0) > tolerance || abs($0.1 - $1.1) > tolerance }
            #expect(off == nil, "\(kind): \(String(describing: off)) in \(times.prefix(6)) vs \(expected.prefix(6))")
        }

        // The codec strings agree with ffprobe's profile and level.
        let level = try #require(probe.out.split(whereSeparator: { $0 == "|" || $0 == "\n" }).first { $0.hasPrefix("level=") }.flatMap { Int($0.dropFirst(6)) })
        let profile = probe.out.contains("profile=High") ? "64" : probe.out.contains("profile=Main") ? "4D" : "42"
        let codec = try #require(MP4CodecString.rfc6381(video))
        #expect(codec.hasPrefix("avc1." + profile) && codec.hasSuffix(String(format: "%02X", level)), "\(codec) for \(probe.out)")
        #expect(MP4CodecString.rfc6381(audio) == "mp4a.40.2")
    }

    @Test func h265AccessUnitsMuxedToFMP4DecodeAsHEVC() async throws {
        let (stream, units) = try await Self.hevcClip()
        var packets: [AVPacket] = []
        for (n, unit) in units.enumerated() {
            packets.append(AVPacket(streamIndex: 0, codec: .h265, dts: Int64(n) * 3600, pts: Int64(n) * 3600,
                                    isKeyFrame: unit.key, payload: AnnexB.lengthPrefixed(unit.nals)))
        }
        let file = try Self.writeFMP4(streams: [stream], packets: packets, name: "hevc")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let probe = try await FFprobe.run(file, entries: "stream=codec_name,codec_tag_string,width,height,profile,level")
        #expect(probe.out.contains("codec_name=hevc|profile=Main|codec_tag_string=hvc1|width=1280|height=720"), "\(probe.out) \(probe.err)")
        let decode = try await Self.decode(file)
        expectCleanDecode(decode.status, decode.err, "hevc fMP4 file")
        #expect(decode.videoFrames == units.count)
        #expect(MP4CodecString.rfc6381(stream) == "hvc1.1.6.L93.90", "libx265 Main, level 3.1, progressive + frame-only")
    }

    // MARK: Through the relay

    @Test func httpMP4AndLiveMP4DecodeCleanlyAndPlayersAreListedAsFMP4() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/mp4")
        defer { publisher.terminate() }
        let api = AdminHTTP(port: server.adminPort)
        let url = Self.mp4URL(server, "live/mp4")
        async let plain = ChildProcess.run("ffmpeg", ["-v", "error", "-i", url, "-t", "4", "-f", "null", "-"], timeout: 40)
        let listed = try await Self.waitForPlayers(api, stream: "live/mp4")
        #expect(listed.contains { $0["protocol"]?.string == "fmp4" }, "\(listed)")
        let live = try await Self.decode(Self.mp4URL(server, "live/mp4", suffix: ".live.mp4"), seconds: 4)
        expectCleanDecode(live.status, live.err, ".live.mp4")
        #expect(live.videoFrames >= 90, "\(live.videoFrames) frames")
        let first = try await plain
        expectCleanDecode(first.status, first.err, ".mp4")
        try await FFprobe.expectStreams(url, context: "HTTP fMP4")

        // The response: video/mp4, chunked, starting with the init segment.
        let head = try await ChildProcess.run("curl", ["-s", "-D", "-", "-o", "/dev/null", "--max-time", "1", url], timeout: 10)
        #expect(head.out.lowercased().contains("content-type: video/mp4"), "\(head.out)")
        #expect(head.out.lowercased().contains("transfer-encoding: chunked"), "\(head.out)")
        #expect(try await api.get("/metrics").text.contains("protocol=\"fmp4\""), "fmp4 series present")
        await server.stop()
    }

    @Test func webSocketMP4IsInitThenFragmentsThatFFmpegDecodes() async throws {
        let (server, publisher) = try await TestServer.startPublishing("live/wsmp4")
        defer { publisher.terminate() }
        let api = AdminHTTP(port: server.adminPort)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wsfmp4-\(UUID().uuidString).mp4").path
        defer { try? FileManager.default.removeItem(atPath: file) }

        async let played = WSFLVTests.play("ws://127.0.0.1:\(server.httpPort)/live/wsmp4.mp4", seconds: 3, out: file)
        let listed = try await Self.waitForPlayers(api, stream: "live/wsmp4")
        #expect(listed.contains { $0["protocol"]?.string == "ws-fmp4" }, "\(listed)")
        let play = try await played
        #expect(play.status == 101 && play.frames > 10, "\(play.json)")

        // Our reader: one init segment first, then moof/mdat pairs with rising sequence numbers
        // and per-track decode times that never go back.
        let bytes = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(ReadBox.parse(bytes)?.prefix(2).map(\.type) == ["ftyp", "moov"])
        let stream = try #require(ReadFragment.parseStream(bytes), "the received bytes are whole boxes")
        #expect(stream.initSegments == 1)
        let sequences = stream.fragments.map(\.sequence)
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 })
        for track: UInt32 in [1, 2] {
            let times = stream.fragments.filter { $0.trackID == track }.map(\.decodeTime)
            #expect(!times.isEmpty && times == times.sorted(), "track \(track)")
        }
        #expect(stream.fragments.first?.trackID == 1 && stream.fragments.first?.sampleFlags == 0x0200_0000,
                "starts on a video sync sample")

        try await FFprobe.expectStreams(file, context: "WS fMP4 payloads")
        let decode = try await Self.decode(file)
        expectCleanDecode(decode.status, decode.err, "WS fMP4 file")
        #expect(decode.videoFrames >= 50, "\(decode.videoFrames) frames")
        await server.stop()
    }

    @Test func aMissingStreamIsA404OverHTTPAndWebSocket() async throws {
        let server = try await TestServer.start(#""source": {"play_wait_ms": 300}"#)
        let http = try await ChildProcess.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                                                       Self.mp4URL(server, "live/none")], timeout: 10)
        #expect(http.out == "404", "\(http.out) \(http.err)")
        let ws = try await WSFLVTests.play("ws://127.0.0.1:\(server.httpPort)/live/none.live.mp4", seconds: 1)
        #expect(ws.status == 404 && ws.frames == 0, "\(ws.json)")
        await server.stop()
    }

    @Test func anH265SourceIsServedAsHvc1() async throws {
        let server = try await TestServer.start()
        let (stream, units) = try await Self.hevcClip()
        let source = Source(id: "live/hevc", eventLoop: server.server.group.next(),
                            publisher: SessionInfo(sessionID: "test", protocolName: "test", remoteAddress: "local"),
                            context: server.server.context)
        try server.server.context.registry.register(source)
        await source.expectTracks(video: true, audio: false)
        await source.updateStream(stream)
        let pusher = Task {
            var n: Int64 = 0
            while !Task.isCancelled {
                for unit in units where !Task.isCancelled {
                    await source.write(AVPacket(streamIndex: 0, codec: .h265, dts: n * 3600, pts: n * 3600,
                                                isKeyFrame: unit.key, payload: AnnexB.lengthPrefixed(unit.nals)))
                    n += 1
                    try? await Task.sleep(nanoseconds: 40_000_000)
                }
            }
        }
        defer { pusher.cancel() }
        #expect(await server.waitPlayable("live/hevc"))
        let url = Self.mp4URL(server, "live/hevc")
        let probe = try await FFprobe.run(url, entries: "stream=codec_name,codec_tag_string,width,height")
        #expect(probe.out.contains("codec_name=hevc|codec_tag_string=hvc1|width=1280|height=720"), "\(probe.out) \(probe.err)")
        let decode = try await Self.decode(url, seconds: 2)
        expectCleanDecode(decode.status, decode.err, "hevc over HTTP fMP4")
        #expect(decode.videoFrames >= 40, "\(decode.videoFrames) frames")
        pusher.cancel()
        await source.close(reason: "test done")
        await server.stop()
    }

    @Test func aG711SourceIsServedVideoOnly() async throws {
        let server = try await TestServer.start()
        let publisher = try await server.publishPlayable(TestMedia.shared.h264G711FLV(), stream: "live/alaw")
        defer { publisher.terminate() }
        let probe = try await FFprobe.run(Self.mp4URL(server, "live/alaw"), entries: "stream=codec_type,codec_name")
        #expect(probe.status == 0, "\(probe.err)")
        #expect(probe.out.split(separator: "\n").map(String.init) == ["stream|codec_name=h264|codec_type=video"], "\(probe.out)")
        #expect(await server.log.eventually("leaves out tracks: g711a"), "the left-out track is logged")
        await server.stop()
    }

    // MARK: Helpers

    static func mp4URL(_ server: TestServer, _ stream: String, suffix: String = ".mp4") -> String {
        "http://127.0.0.1:\(server.httpPort)/\(stream)\(suffix)"
    }

    /// ffmpeg decodes `url` (to `seconds` of output if given) to null; video frames counted.
    static func decode(_ url: String, seconds: Int? = nil) async throws -> (status: Int32?, err: String, videoFrames: Int) {
        let limit = seconds.map { ["-t", String($0)] } ?? []
        let progress = Self.outputFile("progress")
        defer { try? FileManager.default.removeItem(atPath: progress) }
        let r = try await ChildProcess.run("ffmpeg", ["-v", "error", "-nostats", "-i", url] + limit
                                           + ["-f", "null", "-", "-progress", progress], timeout: 40)
        return (r.status, r.err, RTSPTests.lastFrameCount((try? String(contentsOfFile: progress, encoding: .utf8)) ?? ""))
    }

    /// A temporary path for a tool's long output: ChildProcess gives the pipes only a moment to
    /// drain after exit, so under load the end of a long stdout can be missing.
    static func outputFile(_ what: String) -> String {
        NSTemporaryDirectory() + "liverelay-fmp4-\(what)-\(UUID().uuidString).txt"
    }

    /// The admin API's players of `stream` once one is listed (or after ~3 s).
    static func waitForPlayers(_ api: AdminHTTP, stream: String) async throws -> [JSONValue] {
        let query = stream.replacingOccurrences(of: "/", with: "%2F")
        for _ in 0..<100 {
            let listed = try await api.get("/api/v1/players?stream=\(query)").value["players"]?.items ?? []
            if !listed.isEmpty { return listed }
            try await Task.sleep(nanoseconds: 30_000_000)
        }
        return []
    }

    /// The tracks and packets of an FLV file, as the RTMP/FLV ingest makes them.
    static func demuxFLV(_ path: String) throws -> ([AVStream], [AVPacket]) {
        var buffer = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: path)))
        var reader = FLVTagReader()
        var demuxer = FLVDemuxer()
        var events: [MediaEvent] = []
        while let tag = try reader.next(from: &buffer) {
            if tag.type == FLVTagType.video {
                try demuxer.video(body: tag.body, timestamp: Int64(tag.timestamp), into: &events)
            } else if tag.type == FLVTagType.audio {
                try demuxer.audio(body: tag.body, timestamp: Int64(tag.timestamp), into: &events)
            }
        }
        var streams: [AVStream] = []
        var packets: [AVPacket] = []
        for event in events {
            switch event {
            case .stream(let s) where !streams.contains { $0.index == s.index }: streams.append(s)
            case .packet(let p): packets.append(p)
            default: break
            }
        }
        return (streams, packets)
    }

    /// Muxes into a temporary .mp4 file (init segment, then a fragment per packet).
    static func writeFMP4(streams: [AVStream], packets: [AVPacket], name: String) throws -> String {
        let muxer = FMP4Muxer(framing: .none)
        var out = ByteBuffer()
        muxer.writeHeader(streams: streams, into: &out)
        for packet in packets {
            guard let stream = streams.first(where: { $0.index == packet.streamIndex }) else { continue }
            muxer.mux(packet, stream: stream, into: &out)
        }
        let path = NSTemporaryDirectory() + "liverelay-fmp4-\(name)-\(getpid()).mp4"
        try Data(out.readableBytesView).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// 4 s of H.264 High with two B-frames (360p25) + AAC 48 kHz stereo, FLV.
    static func bFramesFLV() async throws -> String {
        try await MediaCache("media").make("fmp4_bframes_360p.flv", [
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "4", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast",
            "-bf", "2", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "flv",
        ])
    }

    /// (pts, dts) in seconds of every packet of the first video ("v") or audio ("a") stream.
    static func packetTimes(_ file: String, _ kind: String) async throws -> [(Double, Double)] {
        let out = Self.outputFile("packets")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try await ChildProcess.run("ffprobe", ["-v", "error", "-select_streams", "\(kind):0", "-show_entries",
                                                       "packet=pts_time,dts_time", "-of", "csv=p=0", "-o", out, file], timeout: 30)
        #expect(r.status == 0, "ffprobe \(file): \(r.err)")
        return ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ",").compactMap { Double($0) }
            return fields.count == 2 ? (fields[0], fields[1]) : nil
        }
    }

    /// 2 s of libx265 720p25 (GOP 25, no B-frames) as access units, and its track.
    static func hevcClip() async throws -> (AVStream, [RTSPTests.HEVCUnit]) {
        let clip = try await MediaCache("media").make("fmp4_hevc_720p.hevc", [
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "2",
            "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=0:aud=1:log-level=error",
            "-pix_fmt", "yuv420p", "-f", "hevc",
        ])
        let units = try RTSPTests.hevcAccessUnits(try Data(contentsOf: URL(fileURLWithPath: clip)))
        let first = try #require(units.first)
        func sets(_ type: UInt8) -> [ByteBuffer] {
            first.nals.filter { ($0.getInteger(at: $0.readerIndex, as: UInt8.self) ?? 0) >> 1 & 0x3F == type }
        }
        let stream = try AVStream.h265(index: 0, timebase: 90_000, vps: sets(32), sps: sets(33), pps: sets(34))
        return (stream, units)
    }
}
