import Foundation
import Testing
@testable import RelayZLM

/// getSnap's pieces: the caller's URL only names a stream (wvp sends
/// `rtsp://127.0.0.1:{rtsp.port}/{app}/{stream}` or `http://…/{app}/{stream}.live.mp4`,
/// `media/zlm/ZLMMediaNodeServerService.java` getSnap), and ffmpeg runs bounded in time.
@Suite struct ZLMSnapshotTests {
    @Test func streamFromThePlayerURLsPlatformsSend() {
        #expect(ZLMSnapshot.streamID(fromURL: "rtsp://127.0.0.1:554/rtp/34020000001320000001_34020000001320000001") ==
            "rtp/34020000001320000001_34020000001320000001")
        #expect(ZLMSnapshot.streamID(fromURL: "http://127.0.0.1:80/rtp/05F5E101.live.mp4?token=x") == "rtp/05F5E101")
        #expect(ZLMSnapshot.streamID(fromURL: "http://h/live/cam.live.flv") == "live/cam")
        #expect(ZLMSnapshot.streamID(fromURL: "http://h/live/cam/hls.m3u8") == "live/cam")
        #expect(ZLMSnapshot.streamID(fromURL: "rtmp://h:1935/live/cam") == "live/cam")
        // Nothing else reaches ffmpeg: no traversal, no other host's path, no bare names.
        #expect(ZLMSnapshot.streamID(fromURL: "rtsp://127.0.0.1/../../etc/passwd") == nil)
        #expect(ZLMSnapshot.streamID(fromURL: "file:///etc/passwd") == "etc/passwd")  // a name, played from this server only
        #expect(ZLMSnapshot.streamID(fromURL: "rtsp://h/cam") == nil)
        #expect(ZLMSnapshot.streamID(fromURL: "rtsp://h") == nil)
        #expect(ZLMSnapshot.streamID(fromURL: "http://h/a/b%20c") == nil)
    }

    @Test func theLocalInputIsBuiltHere() {
        #expect(ZLMSnapshot.localInput("rtp/x", ports: ["rtsp": 8554, "http_flv": 8080])?.suffix(2) ==
            ["-i", "rtsp://127.0.0.1:8554/rtp/x"])
        #expect(ZLMSnapshot.localInput("rtp/x", ports: ["http_flv": 8080])?.suffix(2) == ["-i", "http://127.0.0.1:8080/rtp/x.flv"])
        #expect(ZLMSnapshot.localInput("rtp/x", ports: ["admin": 1]) == nil)
    }

    @Test func aProcessThatDoesNotEndIsKilled() async throws {
        let start = Date()
        let run = await ZLMSnapshot.run("/bin/sleep", ["20"], timeoutSeconds: 0.3)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(run.status != 0)
        #expect(run.error.hasPrefix("timed out"))
    }

    @Test func aMissingExecutableIsAnErrorNotATrap() async {
        let run = await ZLMSnapshot.run("/nonexistent/ffmpeg", [], timeoutSeconds: 1)
        #expect(run.status == -1 && run.error.hasPrefix("cannot run"))
    }

    @Test func outputIsReadWhole() async {
        // More than a pipe buffer (64 KiB), so the drain must run while the process writes.
        let run = await ZLMSnapshot.run("/bin/sh", ["-c", "head -c 300000 /dev/zero"], timeoutSeconds: 10)
        #expect(run.status == 0 && run.output.count == 300_000)
    }
}
