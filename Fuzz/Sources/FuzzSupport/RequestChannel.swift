import NIOCore
import NIOEmbedded
import RelayCore

/// A connected (active) EmbeddedChannel with the head of a request listener's pipeline as HTTPFLVServer and
/// RTSPServer install it: RequestHeadGuard (head bound, timeout) then the protocol's decoder.
public func requestChannel(protocolName: String, maxHead: Int, tooLargeResponse: String,
                           decoder: some ByteToMessageDecoder) -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    try! channel.pipeline.syncOperations.addHandler(RequestHeadGuard(
        protocolName: protocolName, timeoutMs: 10_000, maxBytes: maxHead,
        tooLargeResponse: ByteBuffer(string: tooLargeResponse), logger: quietLogger))
    try! channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
    // Connected, so the channel is active: `feed` stops at the first read of an inactive one
    // (firing channelActive alone left it inactive, and only the first read was ever parsed).
    try! channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).wait()
    return channel
}
