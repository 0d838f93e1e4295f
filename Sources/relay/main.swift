import ArgumentParser
@preconcurrency import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayServer

/// `relay [--config PATH]`: runs the LiveRelay server until SIGINT/SIGTERM.
@main
struct Relay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "LiveRelay: RTMP publish; RTMP and HTTP-FLV play.")

    @Option(name: .long, help: "Configuration file (JSON). Default: ./config.json if present, else built-in defaults.")
    var config: String?

    func run() async throws {
        let cfg: RelayConfig
        var configPath: String?
        do {
            if let path = config {
                cfg = try RelayConfig.load(path: path)
                configPath = path
            } else if FileManager.default.fileExists(atPath: "config.json") {
                cfg = try RelayConfig.load(path: "config.json")
                configPath = "config.json"
            } else {
                cfg = .default
            }
        } catch {
            FileHandle.standardError.write(Data("relay: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: cfg.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "relay")
        let server = RelayServer(config: cfg, logger: logger, configPath: configPath)
        do {
            try await server.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        logger.info("LiveRelay started")
        let signal = await Self.waitForTerminationSignal()
        logger.info("received \(signal), shutting down")
        try await server.stop()
        logger.info("stopped")
    }

    /// Suspends until SIGINT or SIGTERM arrives.
    static func waitForTerminationSignal() async -> String {
        let signals = SignalWaiter()
        let name = await withCheckedContinuation { signals.install($0) }
        withExtendedLifetime(signals) {}
        return name
    }
}

/// Owns the dispatch signal sources (they stop when released) and resumes its waiter once.
private final class SignalWaiter: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let fired = NIOLockedValueBox(false)

    func install(_ continuation: CheckedContinuation<String, Never>) {
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [fired] in
                if fired.withLockedValue({ let was = $0; $0 = true; return !was }) {
                    continuation.resume(returning: name)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}
