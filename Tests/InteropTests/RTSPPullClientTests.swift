import Foundation
import Logging
import NIOCore
import NIOPosix
import RelayCore
import RelayRTSP
import Testing

/// RTSPPullClient against GStreamer's RTSP server (Scripts/rtsp_camera.py) as the camera: TCP and UDP,
/// Digest auth, a camera that is down, and one that stops mid-stream.
@Suite(.serialized) struct RTSPPullClientTests {
    /// What the session told its pull, readable from the test's task.
    final class Collected: UpstreamEvents, @unchecked Sendable {
        private let lock = NSLock()
        private var events: [MediaEvent] = []
        private var endings: [String] = []

        func upstream(_ event: MediaEvent) { lock.withLock { events.append(event) } }
        func upstreamEnded(_ reason: String) { lock.withLock { endings.append(reason) } }

        var all: [MediaEvent] { lock.withLock { events } }
        var ended: [String] { lock.withLock { endings } }
        func packets(_ codec: CodecID) -> [AVPacket] {
            all.compactMap { if case .packet(let p) = $0, p.codec == codec { p } else { nil } }
        }
        func streams() -> [CodecID] { all.compactMap { if case .stream(let s) = $0 { s.codec } else { nil } } }

        func wait(seconds: Double, until done: () -> Bool) async {
            let deadline = Date().addingTimeInterval(seconds)
            while !done() && Date() < deadline { try? await Task.sleep(nanoseconds: 20_000_000) }
        }
    }

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func connect(_ url: String, _ transport: RTSPPullTransport, _ events: Collected,
                 receive: TimeAmount = .seconds(3)) async throws -> RTSPPullClient {
        let loop = Self.group.next()
        var logger = Logger(label: "rtsp-pull-test")
        logger.logLevel = .info
        let timeouts = UpstreamTimeouts(connect: .seconds(5), receive: receive)
        return try await loop.flatSubmit { [logger] in
            RTSPPullClient.connect(url: url, transport: transport, on: loop, timeouts: timeouts, logger: logger, events: events)
        }.get()
    }

    func pullsTracksAndFrames(video: RTSPCamera.Video, audio: RTSPCamera.Audio, transport: RTSPPullTransport) async throws {
        let camera = try await RTSPCamera.start(video: video, audio: audio)
        defer { camera.stop() }
        let events = Collected()
        let started = Date()
        let client = try await connect(camera.url(), transport, events)
        let playing = Date().timeIntervalSince(started)
        #expect(client.remoteAddress == "rtsp 127.0.0.1:\(camera.port)")
        let videoCodec: CodecID = video == .h264 ? .h264 : .h265
        let audioCodec: CodecID = audio == .aac ? .aac : .g711a
        // The clip is 2 s long: ≥ 25 frames span its loop.
        await events.wait(seconds: 10) { events.packets(videoCodec).count >= 60 && events.packets(audioCodec).count >= 20 }
        let frames = events.packets(videoCodec)
        print("rtsp pull \(video)+\(audio) over \(transport): PLAY answered after \(Int(playing * 1000)) ms; "
              + "\(frames.count) video frames (\(frames.filter(\.isKeyFrame).count) key), \(events.packets(audioCodec).count) audio")
        guard case .tracks(video: true, audio: true)? = events.all.first else {
            Issue.record("first event: \(String(describing: events.all.first))")
            return
        }
        #expect(events.streams().contains(videoCodec) && events.streams().contains(audioCodec))
        #expect(frames.count >= 60, "\(camera.log)")
        #expect(frames.first?.isKeyFrame == true)
        // Decode times go forward across the clip's loop.
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.dts < $1.dts })
        client.close()
        await events.wait(seconds: 3) { !events.ended.isEmpty }
        #expect(events.ended == ["closed"])
    }

    /// Scripts/rtsp_redirector.py: answers DESCRIBE with a 302 to `location` ("self": a loop).
    final class Redirector: Sendable {
        let process: ChildProcess
        let port: Int

        init(location: String) async throws {
            process = try ChildProcess("python3", ["-u", "\(HookServer.repoRoot)/Tests/InteropTests/Scripts/rtsp_redirector.py", location])
            let deadline = Date().addingTimeInterval(10)
            var found: Int?
            while found == nil, Date() < deadline, process.isRunning {
                found = process.stdoutLines.first.flatMap { Int($0) }
                if found == nil { try await Task.sleep(nanoseconds: 20_000_000) }
            }
            guard let found else {
                process.terminate()
                throw RTSPCamera.Failed(description: "rtsp_redirector.py did not start: \(process.stderr)")
            }
            port = found
        }

        func url(credentials: String = "") -> String { "rtsp://\(credentials)127.0.0.1:\(port)/moved" }
        /// "METHOD URI auth=yes|no" per request received.
        var requests: [String] { process.stdoutLines.dropFirst().map(String.init) }
        func stop() { process.terminate() }
    }

    @Test func aRedirectedDescribeIsFollowed() async throws {
        let camera = try await RTSPCamera.start(video: .h264, audio: .aac, user: "admin", password: "s3cret")
        defer { camera.stop() }
        // The Location carries the credentials: the camera plays.
        let redirector = try await Redirector(location: camera.url())
        defer { redirector.stop() }
        let events = Collected()
        let client = try await connect(redirector.url(), .tcp, events)
        #expect(client.remoteAddress == "rtsp 127.0.0.1:\(camera.port)")
        await events.wait(seconds: 10) { events.packets(.h264).count >= 10 }
        #expect(events.packets(.h264).count >= 10, "\(camera.log)")
        client.close()

        // The pull's own credentials do not go to another host:port (as curl): the camera wants them.
        let bare = try await Redirector(location: "rtsp://127.0.0.1:\(camera.port)/cam")
        defer { bare.stop() }
        do {
            _ = try await connect(bare.url(credentials: "admin:s3cret@"), .tcp, Collected())
            Issue.record("credentials were handed to another server")
        } catch let error as RTSPPullError {
            #expect(error.status == 401 && error.description.contains("needs credentials"), "\(error)")
        }

        // A redirect loop ends with an error after a bounded number of hops.
        let loop = try await Redirector(location: "self")
        defer { loop.stop() }
        do {
            _ = try await connect(loop.url(), .tcp, Collected())
            Issue.record("a redirect loop connected")
        } catch let error as RTSPPullError {
            #expect(error.description.contains("more than \(RTSPPullClient.maxRedirects) redirects"), "\(error)")
        }
        #expect(loop.requests.filter { $0.hasPrefix("DESCRIBE") }.count == RTSPPullClient.maxRedirects + 1, "\(loop.requests)")
    }

    @Test func h264AndAACOverTCP() async throws {
        try await pullsTracksAndFrames(video: .h264, audio: .aac, transport: .tcp)
    }

    @Test func h264AndAACOverUDP() async throws {
        try await pullsTracksAndFrames(video: .h264, audio: .aac, transport: .udp)
    }

    @Test func h265AndPCMAOverUDP() async throws {
        try await pullsTracksAndFrames(video: .h265, audio: .pcma, transport: .udp)
    }

    @Test func digestWithTheRightPasswordPlaysAndAWrongOneIsRefused() async throws {
        let camera = try await RTSPCamera.start(user: "viewer", password: "s3cret pass")
        defer { camera.stop() }
        let events = Collected()
        let client = try await connect(camera.url(), .tcp, events)
        await events.wait(seconds: 10) { events.packets(.h264).count >= 25 }
        #expect(events.packets(.h264).count >= 25)
        client.close()

        let refused = Collected()
        do {
            _ = try await connect(camera.url(password: "wrong"), .udp, refused)
            Issue.record("a wrong password was accepted")
        } catch let error as RTSPPullError {
            #expect(error.status == 401 && error.description.contains("refused"), "\(error)")
        }
        do {
            _ = try await connect("rtsp://127.0.0.1:\(camera.port)/cam", .tcp, refused)
            Issue.record("no credentials were accepted")
        } catch let error as RTSPPullError {
            #expect(error.status == 401 && error.description.contains("needs credentials"), "\(error)")
        }
        #expect(refused.all.isEmpty && refused.ended.isEmpty)
    }

    @Test func aCameraThatIsDownFailsFast() async throws {
        let camera = try await RTSPCamera.stopped()
        let started = Date()
        do {
            _ = try await connect(camera.url(), .tcp, Collected())
            Issue.record("connected to a camera that is down")
        } catch let error as RTSPPullError {
            #expect(error.description.contains("cannot connect"), "\(error)")
        }
        #expect(Date().timeIntervalSince(started) < 1)

        // Wrong path on a running camera: 404.
        try await camera.start()
        defer { camera.stop() }
        do {
            _ = try await connect("rtsp://127.0.0.1:\(camera.port)/nothing", .tcp, Collected())
            Issue.record("played a path the camera does not serve")
        } catch let error as RTSPPullError {
            #expect(error.status == 404, "\(error)")
        }
    }

    @Test func aCameraStoppedMidStreamEndsTheSessionAndPlaysAgainAfterARestart() async throws {
        for transport in [RTSPPullTransport.tcp, .udp] {
            let camera = try await RTSPCamera.start()
            let events = Collected()
            let client = try await connect(camera.url(), transport, events, receive: .seconds(2))
            await events.wait(seconds: 10) { events.packets(.h264).count >= 10 }
            #expect(events.packets(.h264).count >= 10)
            let stopped = Date()
            camera.stop()
            await events.wait(seconds: 5) { !events.ended.isEmpty }
            #expect(events.ended.count == 1, "\(transport)")
            print("rtsp pull over \(transport): camera stopped → upstreamEnded after \(Int(Date().timeIntervalSince(stopped) * 1000)) ms: \(events.ended)")
            client.close()

            // Back on the same port: a new session plays (what a pull's reconnect does).
            try await camera.start()
            let again = Collected()
            let second = try await connect(camera.url(), transport, again)
            await again.wait(seconds: 10) { again.packets(.h264).count >= 10 }
            #expect(again.packets(.h264).count >= 10)
            second.close()
            camera.stop()
        }
    }
}
