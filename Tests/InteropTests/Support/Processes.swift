import Foundation

/// A child process (ffmpeg, ffprobe …) that is always cleaned up: tests `terminate()` it in a
/// `defer`, and `run` bounds its time.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var outData = Data()
    private var errData = Data()
    /// Pipes read to their end (the child and anything that inherited them closed them).
    private var closedPipes = 0

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: try Tools.path(executable))
        process.arguments = arguments
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.withLock { d.isEmpty ? self.pipeClosed(h) : self.outData.append(d) }
        }
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.withLock { d.isEmpty ? self.pipeClosed(h) : self.errData.append(d) }
        }
        try process.run()
    }

    var stdout: String { lock.withLock { String(decoding: outData, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: errData, as: UTF8.self) } }
    /// The lines written so far, whole ones only: output is read while the child writes, and the
    /// last line may be half there (a half JSON body, a port number cut short).
    var stdoutLines: [Substring] {
        let out = stdout
        guard let end = out.lastIndex(of: "\n") else { return [] }
        return out[..<end].split(separator: "\n")
    }
    var isRunning: Bool { process.isRunning }

    /// Waits up to `seconds`; kills the process if it is still running then. Returns the exit status
    /// (nil when it had to be killed).
    @discardableResult
    func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        if process.isRunning {
            terminate()
            return nil
        }
        // Read both pipes to their end (a long stdout is still in the pipe when the child exits),
        // for at most 2 s.
        let drained = Date().addingTimeInterval(2)
        while lock.withLock({ closedPipes < 2 }) && Date() < drained {
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return process.terminationStatus
    }

    /// Called under `lock` when a pipe reads empty: its end.
    private func pipeClosed(_ handle: FileHandle) {
        handle.readabilityHandler = nil
        closedPipes += 1
    }

    func terminate() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(2)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    deinit { terminate() }

    /// Runs to completion (bounded) and returns (status, stdout, stderr).
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 60) async throws -> (status: Int32?, out: String, err: String) {
        let p = try ChildProcess(executable, arguments)
        let status = await p.wait(seconds: timeout)
        return (status, p.stdout, p.stderr)
    }
}

enum Tools {
    struct Missing: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) not found on PATH (install ffmpeg: apt-get install ffmpeg)" }
    }

    static func path(_ name: String) throws -> String {
        if name.hasPrefix("/") { return name }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Missing(name: name)
    }
}
