import Dispatch
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM go to `handler` (with the signal's name, each time one arrives) instead of
/// ending the process, for as long as this object lives or until `cancel()`. For the tools'
/// clean shutdown: `relay`, `relay-camera`, `relay-bench`'s senders.
public final class TerminationSignals: @unchecked Sendable {  // immutable; dispatch sources are thread-safe
    private let sources: [any DispatchSourceSignal]

    public init(_ handler: @escaping @Sendable (String) -> Void) {
        sources = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { sig, name in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { handler(name) }
            source.resume()
            return source
        }
    }

    deinit {
        cancel()
    }

    public func cancel() {
        sources.forEach { $0.cancel() }
    }

    /// Suspends until SIGINT or SIGTERM arrives; its name.
    public static func next() async -> String {
        let fired = NIOLockedValueBox(false)
        var signals: TerminationSignals?
        let name = await withCheckedContinuation { continuation in
            signals = TerminationSignals { name in
                if fired.withLockedValue({ let was = $0; $0 = true; return !was }) {
                    continuation.resume(returning: name)
                }
            }
        }
        withExtendedLifetime(signals) {}
        return name
    }
}
