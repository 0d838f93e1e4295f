import FuzzSupport
import NIOCore

extension PipelineHarness {
    /// A publisher's TCP connection to a listener on `port` from `peer` (192.0.2.x): a ManualChannel
    /// on the harness loop, not yet active, so the target adds the listener's handlers first.
    public func publisherChannel(port: Int, peer: String) -> ManualChannel {
        ManualChannel(loop: loop, local: try? SocketAddress(ipAddress: "127.0.0.1", port: port),
                    remote: try? SocketAddress(ipAddress: peer, port: 50000))
    }

    /// Feeds `reads` to `channel` one read at a time while it is open, the input is within its
    /// time budget and `allows` the read (running `afterRead` after each).
    public func feed(_ channel: ManualChannel, _ reads: inout ExpandedReads,
                     allows: (ByteBuffer) -> Bool = { _ in true }) {
        while channel.isOpen, withinTimeBudget, let bytes = reads.next() {
            let read = ByteBuffer(bytes: bytes)
            guard allows(read) else { return }
            channel.receive(read)
            afterRead(bytes: bytes.count)
        }
    }
}
