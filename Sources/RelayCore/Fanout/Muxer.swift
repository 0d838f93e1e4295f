import NIOCore

/// Turns AVPackets into one protocol's bytes. One muxer per TransStream: it runs once per packet
/// for all players of that protocol.
public protocol Muxer: AnyObject {
    /// Appends what a new player needs before media: file header, metadata, sequence headers.
    func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer)
    /// A track's configuration changed mid-stream: append what players need (new sequence header).
    func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer)
    /// Appends the packet in this protocol's framing.
    func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer)

    /// Bytes reserved at the start of every segment for framing written when it is cut (HTTP
    /// chunk size line for HTTP-FLV); 0 for protocols without segment framing.
    var segmentPrefixSize: Int { get }
    /// Completes a segment's framing in place (fills the reserved prefix, appends a trailer).
    func finishSegment(_ buffer: inout ByteBuffer)
}

extension Muxer {
    public var segmentPrefixSize: Int { 0 }
    public func finishSegment(_ buffer: inout ByteBuffer) {}
}
