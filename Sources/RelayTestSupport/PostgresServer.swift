import Foundation

/// A throwaway PostgreSQL server for tests: `initdb` on a temporary directory, `pg_ctl` on a free
/// loopback port (and a unix socket in that directory), a `liverelay` role and database with
/// trust auth; `stop()` removes it all. As root (CI, this machine) it runs as the `postgres`
/// user, since initdb and postgres refuse root. With `tls`, the server also speaks TLS with a
/// certificate for 127.0.0.1 from a throwaway CA (`caFile`), made with the openssl tool. Without
/// PostgreSQL installed it throws a clear error: the tests that need it fail rather than skip.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    public let user = "liverelay"
    public let database = "liverelay"
    private let bin: String
    private let runAs: String?
    /// The server's TLS options (`-c ssl=on …`), when started with `tls`.
    private var tlsOptions = ""

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `postgres://liverelay@127.0.0.1:PORT/liverelay`.
    public var url: String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }
    /// The same database over the unix socket.
    public var socketURL: String { "postgres://\(user)@/\(database)?host=\(directory)" }
    /// The CA that signed the server's certificate (PEM), when started with `tls`.
    public var caFile: String { directory + "/ca.pem" }
    private var dataDirectory: String { directory + "/data" }
    private var logFile: String { directory + "/server.log" }

    /// Starts a fresh server (a few hundred milliseconds with `--no-sync`).
    public static func start(tls: Bool = false) async throws -> PostgresServer {
        let server = try PostgresServer()
        do {
            try await server.run("initdb", ["-D", server.dataDirectory, "-U", server.user, "-A", "trust", "-E", "UTF8",
                                            "--no-locale", "--no-sync", "--no-instructions"])
            if tls { try await server.makeCertificates() }
            try await server.startServer()
            try await server.run("createdb", ["-h", server.directory, "-p", "\(server.port)", "-U", server.user, server.database])
        } catch {
            await server.stop()
            throw error
        }
        return server
    }

    /// Runs `body` with a fresh server, stopped and removed afterwards whatever `body` does.
    public static func with<T>(tls: Bool = false, _ body: (PostgresServer) async throws -> T) async throws -> T {
        let server = try await start(tls: tls)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    private init() throws {
        let candidates = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            .map { "/usr/lib/postgresql/\($0)/bin" }
            + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }) else {
            throw Failure(description: "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on PATH): apt-get install postgresql")
        }
        self.bin = bin
        let template = NSTemporaryDirectory() + "liverelay-pg-XXXXXX"
        var chars = Array(template.utf8CString)
        guard let made = mkdtemp(&chars) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        directory = String(cString: made)
        runAs = getuid() == 0 ? "postgres" : nil
        if let runAs {
            try FileManager.default.setAttributes([.ownerAccountName: runAs], ofItemAtPath: directory)
        }
        port = try freeTCPPort()
    }

    /// Starts the server again on the same port and data (after `kill()`): a database restart.
    public func startServer() async throws {
        try await run("pg_ctl", ["-D", dataDirectory, "-l", logFile, "-w", "-t", "30", "-o",
                                 "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100" + tlsOptions,
                                 "start"])
    }

    /// A CA and a server certificate for 127.0.0.1 signed by it (EC P-256, two days), the key
    /// readable by the server's user only, as PostgreSQL insists.
    private func makeCertificates() async throws {
        let script = """
            set -e
            cd "$1"
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=liverelay-test-ca \\
              -keyout ca.key -out ca.pem
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \\
              -keyout server.key -out server.csr
            printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext \\
              -out server.crt
            chmod 600 server.key
            """
        let (status, output) = try await Self.shell(script, directory)
        guard status == 0 else { throw Failure(description: "openssl could not make the test certificates (\(status)): \(output)") }
        if let runAs {
            for file in ["server.key", "server.crt"] {
                try FileManager.default.setAttributes([.ownerAccountName: runAs], ofItemAtPath: "\(directory)/\(file)")
            }
        }
        tlsOptions = " -c ssl=on -c ssl_cert_file=\(directory)/server.crt -c ssl_key_file=\(directory)/server.key"
    }

    private static func shell(_ script: String, _ argument: String) async throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, "sh", argument]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// Stops the server at once, keeping its data (`startServer()` brings it back).
    public func kill() async throws {
        try await run("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
    }

    /// Stops the server and removes its directory.
    public func stop() async {
        if FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid") {
            _ = try? await run("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `psql -Atc sql`'s output (checks from outside the code under test).
    public func psql(_ sql: String) async throws -> String {
        try await run("psql", ["-h", directory, "-p", "\(port)", "-U", user, "-d", database, "-Atc", sql])
    }

    /// Runs a PostgreSQL tool (as `postgres` when root), bounded to 60 s; its output, or a
    /// Failure with it and the server log's tail.
    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let p = Process()
        // Foundation learns of a child's exit when a socket the child inherits closes; the server
        // pg_ctl starts would inherit it too, so the tool runs under a parent that closes it.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let command = (runAs.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []) + ["\(bin)/\(tool)"] + arguments
        p.arguments = ["-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))"] + command
        let output = directory + "/\(tool)-\(UUID().uuidString).out"
        guard FileManager.default.createFile(atPath: output, contents: nil) else { throw Failure(description: "cannot create \(output)") }
        defer { try? FileManager.default.removeItem(atPath: output) }
        guard let handle = FileHandle(forWritingAtPath: output) else { throw Failure(description: "cannot open \(output)") }
        defer { try? handle.close() }
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { try? await Task.sleep(nanoseconds: 10_000_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard p.terminationStatus == 0 else {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
            throw Failure(description: "\(tool) \(arguments.joined(separator: " ")) failed (\(p.terminationStatus)): \(text)\n\(log)")
        }
        return text
    }
}
