import ArgumentParser

/// `relay-bench`: load and measurement tool for LiveRelay (and any RTMP/HTTP-FLV server).
@main
struct RelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-bench",
        abstract: "Load and measure a live relay: players, publishers, server CPU and memory.",
        subcommands: [PlayCommand.self, PushCommand.self, SoakCommand.self, GBSendCommand.self, JTSendCommand.self])
}
