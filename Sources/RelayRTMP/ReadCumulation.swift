import NIOCore

/// The unread tail of a connection's reads (a partial handshake or chunk), prepended to the next
/// read. Shared by the server's and the camera's RTMP sessions.
public struct ReadCumulation {
    private var pending: ByteBuffer?

    public init() {}

    /// Runs `parser` on the kept tail followed by `read`, then keeps what it left unread (nothing
    /// is kept when it throws: the connection is closed).
    public mutating func parse(_ read: ByteBuffer, with parser: (inout ByteBuffer) throws -> Void) rethrows {
        var buffer = append(read)
        let start = buffer.readerIndex
        try parser(&buffer)
        keep(buffer, readFrom: start)
    }

    /// What to parse now: the kept tail followed by `read`.
    private mutating func append(_ read: ByteBuffer) -> ByteBuffer {
        guard var buffer = pending else { return read }
        pending = nil
        var read = read
        buffer.writeBuffer(&read)
        return buffer
    }

    /// Keeps what the parser left of `buffer` (whose reader index was `start` before parsing).
    /// The tail gets its own storage: slices handed out as payloads keep the old storage alive,
    /// and appending to it would copy all of it. If nothing was consumed nothing was handed out
    /// either: the buffer is kept, so a big chunk arriving in many reads is appended to, not
    /// copied again on every read.
    private mutating func keep(_ buffer: ByteBuffer, readFrom start: Int) {
        guard buffer.readableBytes > 0 else { return }
        pending = buffer.readerIndex == start ? buffer : ByteBuffer(buffer.readableBytesView)
    }
}
