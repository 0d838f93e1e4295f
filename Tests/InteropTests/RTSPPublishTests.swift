import Foundation
import NIOCore
import NIOPosix
import Testing

/// RTSP publishing from real clients: ffmpeg (`-f rtsp`, TCP and UDP) and GStreamer's
/// `rtspclientsink`, read back with ffprobe over RTMP, HTTP-FLV and RTSP.
@Suite(.serialized) struct RTSPPublishTests {
    static let cache = MediaCache("rtsp-publish")

    /// 640x360 H.265 (no B-frames) + AAC 44.1 kHz stereo, 10 s, MKV.
    static func h265AAC() async throws -> String {
        try await cache.make("h265_aac.mkv", [
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", "10", "-map", "0:v", "-map", "1:a", "-c:v", "libx265", "-preset", "ultrafast",
            "-x265-params", "bframes=0:keyint=25:log-level=error", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-ac", "2", "-ar", "44100", "-f", "matroska",
        ])
    }

    static func ffmpegPublish(_ file: String, to url: String, transport: String) throws -> ChildProcess {
        try ChildProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", file,
                                    "-c", "copy", "-f", "rtsp", "-rtsp_transport", transport, url])
    }

    static func expectPlayable(_ server: TestServer, _ stream: String, video: String, audio: String,
                               sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(await server.waitPlayable(stream, seconds: 15), "\(stream) not playable", sourceLocation: sourceLocation)
        for (url, transport) in [(server.rtspURL(stream), "tcp"), (server.rtmpURL(stream), nil), (server.flvURL(stream), nil)] {
            let r = try await FFprobe.run(url, rtspTransport: transport)
            #expect(r.status == 0, "ffprobe \(url): \(r.err)", sourceLocation: sourceLocation)
            #expect(r.out.contains(video) && r.out.contains(audio), "\(url): \(r.out)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: ["tcp", "udp"]) func ffmpegH264AAC(transport: String) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try Self.ffmpegPublish(media, to: server.rtspURL("live/x"), transport: transport)
        defer { publisher.terminate() }
        try await Self.expectPlayable(server, "live/x", video: "codec_name=h264|width=1280|height=720",
                                      audio: "codec_name=aac|sample_rate=44100|channels=2")
    }

    @Test func ffmpegH265AAC() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let publisher = try Self.ffmpegPublish(try await Self.h265AAC(), to: server.rtspURL("live/h265"), transport: "tcp")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/h265", seconds: 15))
        let r = try await FFprobe.run(server.rtspURL("live/h265"), rtspTransport: "tcp")
        #expect(r.out.contains("codec_name=hevc|width=640|height=360"), "\(r.out) \(r.err)")
        #expect(r.out.contains("codec_name=aac|sample_rate=44100|channels=2"), "\(r.out)")
    }

    @Test func ffmpegH264PCMA() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let media = try await TestMedia.shared.h264G711FLV()
        let publisher = try Self.ffmpegPublish(media, to: server.rtspURL("live/alaw"), transport: "udp")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/alaw", seconds: 15))
        let r = try await FFprobe.run(server.rtspURL("live/alaw"), rtspTransport: "tcp")
        #expect(r.out.contains("codec_name=h264|width=1280|height=720"), "\(r.out) \(r.err)")
        #expect(r.out.contains("codec_name=pcm_alaw|sample_rate=8000|channels=1"), "\(r.out)")
    }

    @Test func gstreamerRTSPClientSink() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        // Debian's GStreamer has no H.264 encoder: the FLV clip is demuxed and sent as it is.
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try ChildProcess("gst-launch-1.0", [
            "-q", "filesrc", "location=\(media)", "!", "flvdemux", "name=d",
            "rtspclientsink", "name=s", "protocols=tcp", "location=\(server.rtspURL("live/gst"))",
            "d.video", "!", "queue", "!", "h264parse", "!", "s.", "d.audio", "!", "queue", "!", "aacparse", "!", "s.",
        ])
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/gst", seconds: 15),
                "\(server.log.lines.filter { $0.lowercased().contains("rtsp") }.suffix(20).joined(separator: "\n"))")
        let r = try await FFprobe.run(server.flvURL("live/gst"))
        #expect(r.out.contains("codec_name=h264|width=1280|height=720"), "\(r.out) \(r.err)")
        // rtspclientsink payloads AAC as MP4A-LATM (RFC 6416, configuration in the SDP).
        #expect(r.out.contains("codec_name=aac|sample_rate=44100|channels=2"), "\(r.out)")
    }

    /// Garbage after ANNOUNCE closes that connection only; another stream plays on.
    @Test func garbageAfterAnnounceClosesOnlyThatConnection() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let media = try await TestMedia.shared.h264AACFLV()
        let publisher = try Self.ffmpegPublish(media, to: server.rtspURL("live/ok"), transport: "tcp")
        defer { publisher.terminate() }
        #expect(await server.waitPlayable("live/ok", seconds: 15))

        let sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:streamid=0\r\n"
        let request = "ANNOUNCE \(server.rtspURL("live/bad")) RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n"
            + "Content-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
        let socket = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.rtspPort).get()
        try await socket.writeAndFlush(ByteBuffer(string: request)).get()
        try await socket.writeAndFlush(ByteBuffer(bytes: (0..<20000).map { UInt8(truncatingIfNeeded: $0 &* 7919) })).get()
        let closed = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await socket.closeFuture.get(); return true }
            group.addTask { try await Task.sleep(nanoseconds: 5_000_000_000); return false }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(closed)
        try? await socket.close()
        #expect(server.server.context.registry.source("live/bad") == nil)
        let r = try await FFprobe.run(server.rtmpURL("live/ok"))
        #expect(r.out.contains("codec_name=h264|width=1280|height=720"), "\(r.out) \(r.err)")
    }
}
