import FuzzSupport
import NIOCore
import RelayRTMP

/// C0C1 … C2 as the server's RTMPServerHandler feeds them (its cumulation buffer, arbitrary read
/// splits), and the same bytes as S0S1S2 to the client side (relay-camera, relay-bench).
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        var server = RTMPHandshakeServer()
        var client = RTMPHandshakeClient(complex: (input.first ?? 0) & 1 == 1)
        _ = client.start()
        var serverBuffer = ByteBuffer()
        var clientBuffer = ByteBuffer()
        var serverDone = false, clientDone = false
        for var read in Splitter(input) {
            var copy = read
            if !serverDone {
                serverBuffer.writeBuffer(&read)
                serverDone = (try? server.advance(&serverBuffer) {
                    invariant($0.readableBytes <= 3073, "server sent \($0.readableBytes) bytes")
                }) ?? true
            }
            if !clientDone {
                clientBuffer.writeBuffer(&copy)
                clientDone = (try? client.advance(&clientBuffer) { _ in }) ?? true
            }
            if serverDone && clientDone { break }
        }
    }
}
