import CWebRTCCrypto
import NIOCore

/// OpenSSL's write side of one DTLS association: records as OpenSSL writes them, and where each
/// flight ends (OpenSSL flushes after a flight). A memory BIO would run a retransmitted flight and
/// the next one together into one datagram, and OpenSSL drops the records that follow a
/// retransmitted message in a datagram, so the handshake would stall.
final class DTLSDatagramSink {
    private var bytes: ByteBuffer
    private var flightEnds: [Int] = []
    private let mtu: Int

    init(mtu: Int, allocator: ByteBufferAllocator) {
        self.mtu = mtu
        bytes = allocator.buffer(capacity: 0)
    }

    /// A write-only BIO that appends to `sink`; the caller keeps `sink` alive as long as the BIO.
    static func makeBIO(for sink: DTLSDatagramSink) -> OpaquePointer? {
        guard let method = sinkMethod, let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(sink).toOpaque())
        BIO_set_init(bio, 1)
        return bio
    }

    fileprivate func append(_ record: UnsafeRawBufferPointer) {
        bytes.writeBytes(record)
    }

    fileprivate func endFlight() {
        if flightEnds.last != bytes.writerIndex { flightEnds.append(bytes.writerIndex) }
    }

    /// What was written since the last call, as datagrams of whole records up to `mtu` each (slices
    /// of one buffer); a flight never shares a datagram with another.
    func takeDatagrams() -> [ByteBuffer] {
        guard bytes.readableBytes > 0 else { return [] }
        endFlight()
        var datagrams: [ByteBuffer] = []
        for end in flightEnds {
            while bytes.readerIndex < end {
                let flightLeft = end - bytes.readerIndex
                var length = 0
                // A record: a 13-byte header whose last two bytes are the body's length.
                while length < flightLeft {
                    guard let body = bytes.getInteger(at: bytes.readerIndex + length + 11, as: UInt16.self) else {
                        length = flightLeft
                        break
                    }
                    let record = min(13 + Int(body), flightLeft - length)
                    if length > 0, length + record > mtu { break }
                    length += record
                }
                guard let datagram = bytes.readSlice(length: length) else { break }
                datagrams.append(datagram)
            }
        }
        flightEnds.removeAll(keepingCapacity: true)
        bytes = bytes.readableBytes == 0 ? ByteBuffer() : bytes
        return datagrams
    }
}

/// Made once per process; only its callbacks' per-BIO data differ.
nonisolated(unsafe) private let sinkMethod: OpaquePointer? = {
    let index = BIO_get_new_index()
    guard index > 0, let method = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "LiveRelay DTLS datagrams") else {
        return nil
    }
    _ = BIO_meth_set_write(method) { bio, data, length in
        guard let bio, let data, length > 0 else { return 0 }
        if let context = BIO_get_data(bio) {
            Unmanaged<DTLSDatagramSink>.fromOpaque(context).takeUnretainedValue()
                .append(UnsafeRawBufferPointer(start: data, count: Int(length)))
        }
        return length
    }
    _ = BIO_meth_set_ctrl(method) { bio, command, _, _ in
        guard command == BIO_CTRL_FLUSH else { return 0 }
        if let bio, let context = BIO_get_data(bio) {
            Unmanaged<DTLSDatagramSink>.fromOpaque(context).takeUnretainedValue().endFlight()
        }
        return 1
    }
    return method
}()
