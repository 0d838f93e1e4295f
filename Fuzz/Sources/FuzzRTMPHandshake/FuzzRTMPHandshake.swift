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
                do {
                    loop: while true {
                        switch try server.feed(&serverBuffer) {
                        case .needMoreData: break loop
                        case .send(let bytes): invariant(bytes.readableBytes <= 3073, "server sent \(bytes.readableBytes) bytes")
                        case .done: serverDone = true; break loop
                        }
                    }
                } catch { serverDone = true }
            }
            if !clientDone {
                clientBuffer.writeBuffer(&copy)
                do {
                    loop: while true {
                        switch try client.feed(&clientBuffer) {
                        case .needMoreData: break loop
                        case .send: continue
                        case .done: clientDone = true; break loop
                        }
                    }
                } catch { clientDone = true }
            }
            if serverDone && clientDone { break }
        }
    }
}
