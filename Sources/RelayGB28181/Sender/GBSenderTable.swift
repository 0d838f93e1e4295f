import NIOConcurrencyHelpers
import RelayCore

/// The senders of one GB28181 service: at most `maxSenders`, one per (stream, SSRC, dest).
/// Touched when senders start and stop, and when the admin API or metrics read them.
final class GBSenderTable: Sendable {
    /// `gb28181.max_senders`.
    let maxSenders: Int

    init(maxSenders: Int) {
        self.maxSenders = maxSenders
    }

    private struct State {
        var senders: [UInt64: GBSender] = [:]
        /// Bytes of senders that have stopped, so the total only grows.
        var bytesOfStopped: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    /// Takes a place for `sender`, or says why not.
    func reserve(_ sender: GBSender) throws {
        try state.withLockedValue { s in
            if s.senders.values.contains(where: { $0.request.key == sender.request.key }) {
                throw GBSenderError.conflict("a sender of \(sender.request.stream) with SSRC \(GBSSRC.format(sender.request.ssrc)) to \(sender.request.dest ?? "a tcp-passive peer") exists already")
            }
            guard s.senders.count < maxSenders else {
                throw GBSenderError.conflict("too many GB28181 senders (gb28181.max_senders \(maxSenders))")
            }
            s.senders[sender.id] = sender
        }
    }

    func remove(_ sender: GBSender) {
        let bytes = sender.counters.withLockedValue { $0.bytes }
        state.withLockedValue { s in
            if s.senders.removeValue(forKey: sender.id) != nil { s.bytesOfStopped &+= bytes }
        }
    }

    /// By id (the order they were made).
    var senders: [GBSender] {
        state.withLockedValue { Array($0.senders.values) }.sorted { $0.id < $1.id }
    }

    /// Bytes every sender has sent since the start.
    var bytesSent: UInt64 {
        let (live, stopped) = state.withLockedValue { (Array($0.senders.values), $0.bytesOfStopped) }
        return live.reduce(stopped) { $0 &+ $1.counters.withLockedValue { $0.bytes } }
    }
}
