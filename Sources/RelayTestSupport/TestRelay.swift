import Logging
import NIOCore
import RelayCore

/// One relay on a hand-driven loop with a silent logger: what every protocol session test
/// starts from. Muxer factories come from the test (this module knows no protocol);
/// a session test subclasses it to add the pipeline of the listener it drives.
open class TestRelay {
    public let loop = ManualLoop()
    public let relay: RelayContext

    public init(config: RelayConfig = .default, muxers: [MuxerFactory] = []) {
        relay = RelayContext(config: config, muxers: muxers, logger: Self.silentLogger)
    }

    /// A logger that drops everything (tests assert on behaviour, not on log lines).
    public static var silentLogger: Logger {
        Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// An unregistered channel on this loop from a peer at `ip:port` (documentation range).
    public func peerChannel(ip: String, port: Int) throws -> ManualChannel {
        ManualChannel(loop: loop, remote: try SocketAddress(ipAddress: ip, port: port))
    }

    /// The same, with everything the relay writes to it captured.
    public func capturedChannel(ip: String, port: Int) throws -> (ManualChannel, WrittenBytes) {
        let channel = try peerChannel(ip: ip, port: port)
        let written = WrittenBytes()
        channel.capture(into: written)
        return (channel, written)
    }
}

extension RelayContext {
    /// Whether source `id` is playable, read synchronously: its executor is the test's loop.
    public func sourceIsReady(_ id: String) -> Bool {
        registry.source(id)?.assumeIsolated { $0.isReady } ?? false
    }

    /// Players of source `id` by output, read synchronously (see `sourceIsReady`).
    public func players(of id: String) -> [OutputKind: Int]? {
        registry.source(id)?.assumeIsolated { $0.snapshot().players }
    }
}
