import NIOConcurrencyHelpers
import RelayCore

/// The HLS streams (one per source and variant) and sessions (by their URL token), looked up
/// by requests on any thread; the objects themselves live on their source's loop.
final class HLSRegistry: Sendable {
    private struct Key: Hashable {
        let source: ObjectIdentifier
        let format: HLSFormat
    }

    private struct State {
        var streams: [Key: HLSStream] = [:]
        var sessions: [String: HLSSession] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// The source's stream of `format`, made by `make` if it has none. A stream leaves the map
    /// when it closes (on its loop); one found closing refuses sessions and the caller asks
    /// again. The map holds the source, so its identifier is not reused meanwhile.
    func stream(for source: Source, format: HLSFormat, make: () -> HLSStream) -> HLSStream {
        let key = Key(source: ObjectIdentifier(source), format: format)
        return state.withLockedValue { s in
            if let existing = s.streams[key] { return existing }
            let made = make()
            s.streams[key] = made
            return made
        }
    }

    func forget(_ stream: HLSStream) {
        let key = Key(source: ObjectIdentifier(stream.source), format: stream.format)
        state.withLockedValue { s in
            if s.streams[key] === stream { s.streams[key] = nil }
        }
    }

    func insert(_ session: HLSSession) {
        state.withLockedValue { $0.sessions[session.token] = session }
    }

    func forget(_ session: HLSSession) {
        state.withLockedValue { s in
            if s.sessions[session.token] === session { s.sessions[session.token] = nil }
        }
    }

    func session(_ token: String) -> HLSSession? {
        state.withLockedValue { $0.sessions[token] }
    }

    var sessionCount: Int { state.withLockedValue { $0.sessions.count } }

    var streams: [HLSStream] { state.withLockedValue { Array($0.streams.values) } }

    /// 128 random bits as 32 hex digits (the system's CSPRNG).
    static func newToken() -> String {
        var rng = SystemRandomNumberGenerator()
        let a = rng.next() as UInt64, b = rng.next() as UInt64
        return pad(a) + pad(b)
    }

    /// The shape `newToken` makes (checked before any lookup).
    static func isToken(_ s: Substring) -> Bool {
        s.utf8.count == 32 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private static func pad(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
