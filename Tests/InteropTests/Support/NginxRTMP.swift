import Foundation

/// nginx with libnginx-mod-rtmp (Debian) on a free loopback port, `application live`: a
/// third-party RTMP origin. Stop it with `stop()`; its directory goes with it.
final class NginxRTMP: Sendable {
    let port: Int
    private let dir: String
    private let process: ChildProcess

    static var available: Bool { CameraTests.nginxAvailable }

    static func start() async throws -> NginxRTMP {
        let dir = NSTemporaryDirectory() + "relay-nginx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = try freeTCPPort()
        let conf = """
        load_module \(CameraTests.nginxModule ?? "");
        daemon off;
        master_process off;
        worker_processes 1;
        pid \(dir)/nginx.pid;
        error_log \(dir)/error.log info;
        events { worker_connections 64; }
        rtmp {
            server {
                listen 127.0.0.1:\(port);
                chunk_size 4096;
                application live { live on; record off; }
            }
        }
        """
        try conf.write(toFile: "\(dir)/nginx.conf", atomically: true, encoding: .utf8)
        let process = try ChildProcess(CameraTests.nginx, ["-p", dir, "-c", "\(dir)/nginx.conf", "-e", "\(dir)/error.log"])
        let nginx = NginxRTMP(port: port, dir: dir, process: process)
        for _ in 0..<100 {
            if let connection = try? await RawConnection.connect(port: port) {
                await connection.close()
                return nginx
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        nginx.stop()
        throw NginxError(text: "nginx did not start: \(process.stderr) \(nginx.errorLog)")
    }

    private init(port: Int, dir: String, process: ChildProcess) {
        self.port = port
        self.dir = dir
        self.process = process
    }

    func url(_ stream: String) -> String { "rtmp://127.0.0.1:\(port)/live/\(stream)" }

    var errorLog: String { (try? String(contentsOfFile: "\(dir)/error.log", encoding: .utf8)) ?? "" }

    func stop() {
        process.terminate()
        try? FileManager.default.removeItem(atPath: dir)
    }

    struct NginxError: Error, CustomStringConvertible {
        let text: String
        var description: String { text }
    }
}
