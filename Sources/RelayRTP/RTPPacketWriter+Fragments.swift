import NIOCore

extension RTPPacketWriter {
    /// Writes a payload that has no packetization format of its own (an MPEG-PS pack sequence,
    /// GB28181) as consecutive packets of at most `maxPayload` bytes (one, empty, for an empty
    /// payload); `marker` goes on the last.
    public mutating func writeFragmented(_ payload: ByteBuffer, marker: Bool, timestamp: UInt32,
                                         into buffer: inout ByteBuffer) {
        var rest = payload
        repeat {
            guard let chunk = rest.readSlice(length: min(maxPayload, rest.readableBytes)) else { break }
            let last = rest.readableBytes == 0
            write(marker: marker && last, timestamp: timestamp, into: &buffer) { $0.writeImmutableBuffer(chunk) }
        } while rest.readableBytes > 0
    }
}
