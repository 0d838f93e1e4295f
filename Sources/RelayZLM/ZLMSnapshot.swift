import Foundation
import NIOConcurrencyHelpers
import RelayCore

/// getSnap(url, timeout_sec, expire_sec) → a JPEG of the stream's current picture, made by
/// ffmpeg playing the stream from this server. The caller's URL is never given to ffmpeg: only
/// its `app/stream` path is taken, and the local URL is built here (RTSP on loopback when that
/// listener is on, else HTTP-FLV, else RTMP). Without ffmpeg, or when it fails, the answer is
/// JSON `{code: -1, msg}` (HTTP 200): the dialect answers ffmpeg's error text there.
/// `expire_sec` and `async` are accepted; every call takes a fresh picture.
extension ZLMFacade {
    func getSnap(_ p: ZLMParams) async throws -> ZLMResult {
        try p.require("url")
        let timeout = try p.int("timeout_sec", in: 0...3600, default: 10)
        _ = try p.int("expire_sec", in: 0...Int(Int32.max), default: 0)
        guard let id = ZLMSnapshot.streamID(fromURL: try p.required("url")) else {
            throw ZLMFailure(.invalidArgs, "'url' must name a stream of this server (…/app/stream), got '\(printableStreamID(p["url"] ?? ""))'")
        }
        guard let source = context.registry.source(id), await source.isReady else {
            throw ZLMFailure(.notFound, "can not find the stream \(id)")
        }
        guard let input = ZLMSnapshot.localInput(id, ports: ports()) else {
            throw ZLMFailure(.otherFailed, "no player listener (rtsp, http_flv, rtmp) is on to take a snapshot from")
        }
        guard let ffmpeg = ZLMSnapshot.ffmpegPath() else {
            throw ZLMFailure(.otherFailed, "getSnap needs ffmpeg, which is not installed (not found in PATH)")
        }
        guard snaps.acquire() else { throw ZLMFailure(.otherFailed, "too many snapshots are being taken; try again") }
        defer { snaps.release() }
        let seconds = Double(min(max(timeout, 1), 30))
        let run = await ZLMSnapshot.run(ffmpeg, input + ["-frames:v", "1", "-an", "-f", "mjpeg", "-"], timeoutSeconds: seconds)
        guard run.status == 0, run.output.count > 3, run.output[0] == 0xFF, run.output[1] == 0xD8 else {
            let why = run.error.isEmpty ? "exit status \(run.status)" : run.error
            logger.info("zlm getSnap of \(id) failed: \(why)")
            throw ZLMFailure(.otherFailed, "snapshot of \(id) failed: \(why)")
        }
        return .raw(HTTPAnswer(status: 200, contentType: "image/jpeg", body: run.output))
    }
}

/// At most `max` ffmpeg processes at once (each decodes a stream).
final class ZLMSnapshotLimiter: Sendable {
    private let running = NIOLockedValueBox(0)
    let max: Int

    init(max: Int) { self.max = max }

    func acquire() -> Bool {
        running.withLockedValue { n in
            guard n < max else { return false }
            n += 1
            return true
        }
    }

    func release() { running.withLockedValue { $0 -= 1 } }
}

enum ZLMSnapshot {
    /// Largest picture read from ffmpeg.
    static let maxBytes = 8 << 20

    /// `app/stream` from the path of a player URL (`rtsp://h:p/app/stream`,
    /// `http://h:p/app/stream.live.mp4`, `…/app/stream/hls.m3u8`); nil when it names none.
    static func streamID(fromURL url: String) -> String? {
        var path = Substring(url)
        if let scheme = path.range(of: "://") {
            let rest = path[scheme.upperBound...]
            guard let slash = rest.firstIndex(of: "/") else { return nil }
            path = rest[slash...]
        }
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<q] }
        while path.hasPrefix("/") { path = path.dropFirst() }
        for suffix in ["/hls.m3u8", ".live.flv", ".live.mp4", ".live.ts", ".m3u8", ".flv", ".mp4", ".ts"] where path.hasSuffix(suffix) {
            path = path.dropLast(suffix.count)
            break
        }
        let id = String(path)
        return isValidStreamID(id) && id.contains("/") ? id : nil
    }

    /// ffmpeg's input arguments for the stream on this machine.
    static func localInput(_ id: String, ports: [String: Int]) -> [String]? {
        let common = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        if let port = ports["rtsp"] { return common + ["-rtsp_transport", "tcp", "-i", "rtsp://127.0.0.1:\(port)/\(id)"] }
        if let port = ports["http_flv"] { return common + ["-i", "http://127.0.0.1:\(port)/\(id).flv"] }
        if let port = ports["rtmp"] { return common + ["-i", "rtmp://127.0.0.1:\(port)/\(id)"] }
        return nil
    }

    /// The first executable `ffmpeg` on PATH.
    static func ffmpegPath() -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for dir in dirs where !dir.isEmpty {
            let path = "\(dir)/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    struct Run: Sendable {
        var status: Int32
        var output: [UInt8]
        /// The last line ffmpeg wrote to stderr (at most 300 characters), or why it did not run.
        var error: String
    }

    /// Runs `executable` off the event loops: pipes are drained on dispatch threads, the caller
    /// awaits termination; SIGTERM at `timeoutSeconds`, SIGKILL a second later.
    static func run(_ executable: String, _ arguments: [String], timeoutSeconds: Double) async -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdout = Drain(limit: maxBytes), stderr = Drain(limit: 4096)
        let done = DispatchGroup()
        done.enter()
        process.terminationHandler = { _ in done.leave() }
        do {
            try process.run()
        } catch {
            return Run(status: -1, output: [], error: "cannot run \(executable): \(error)")
        }
        stdout.start(out.fileHandleForReading, group: done) { process.terminate() }
        stderr.start(err.fileHandleForReading, group: done) {}
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds) {
            guard process.isRunning else { return }
            process.terminate()
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) { if process.isRunning { kill(pid, SIGKILL) } }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            done.notify(queue: .global()) { c.resume() }
        }
        let status = process.terminationReason == .exit ? process.terminationStatus : -1
        let lines = String(decoding: stderr.bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
        var error = lines.last.map { String($0.prefix(300)) } ?? ""
        if process.terminationReason != .exit { error = "timed out after \(Int(timeoutSeconds)) s" + (error.isEmpty ? "" : ": " + error) }
        if stdout.overflowed { error = "picture larger than \(maxBytes) bytes" }
        return Run(status: status, output: stdout.bytes, error: error)
    }

    /// Reads a pipe to its end on a dispatch thread, keeping at most `limit` bytes.
    final class Drain: Sendable {
        private let state = NIOLockedValueBox<(bytes: [UInt8], overflowed: Bool)>(([], false))
        let limit: Int

        init(limit: Int) { self.limit = limit }

        var bytes: [UInt8] { state.withLockedValue { $0.bytes } }
        var overflowed: Bool { state.withLockedValue { $0.overflowed } }

        func start(_ handle: FileHandle, group: DispatchGroup, onOverflow: @escaping @Sendable () -> Void) {
            group.enter()
            DispatchQueue.global().async {
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    let over = self.state.withLockedValue { s -> Bool in
                        guard !s.overflowed else { return false }
                        if s.bytes.count + chunk.count > self.limit {
                            s.overflowed = true
                            return true
                        }
                        s.bytes.append(contentsOf: chunk)
                        return false
                    }
                    if over { onOverflow() }
                }
                try? handle.close()
                group.leave()
            }
        }
    }
}
