import NIOCore
import NIOEmbedded
import RelayCore

/// An active EmbeddedChannel with the head of a request listener's pipeline as HTTPFLVServer and
/// RTSPServer install it: RequestHeadGuard (head bound, timeout) then the protocol's decoder.
public func requestChannel(protocolName: String, maxHead: Int, tooLargeResponse: String,
                           decoder: some ByteToMessageDecoder) -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    try! channel.pipeline.syncOperations.addHandler(RequestHeadGuard(
        protocolName: protocolName, timeoutMs: 10_000, maxBytes: maxHead,
        tooLargeResponse: ByteBuffer(string: tooLargeResponse), logger: quietLogger))
    try! channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
    channel.pipeline.fireChannelActive()
    return channel
}
