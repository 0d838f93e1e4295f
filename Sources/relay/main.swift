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
        abstract: "LiveRelay: RTMP, GB28181 and JT/T 1078 in; RTMP, HTTP-FLV and RTSP out.")

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
        let signal = await TerminationSignals.next()
        logger.info("received \(signal), shutting down")
        try await server.stop()
        logger.info("stopped")
    }
}
