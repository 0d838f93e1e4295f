import NIOCore

/// The video packets a viewer was sent lately, for NACK retransmissions: slot `sequence %
/// capacity` holds a slice of the shared segment (no copy) and the timestamp it was sent with.
/// Fixed size, allocated once; a slot is overwritten by the packet `capacity` later.
struct WebRTCPacketHistory {
    private var sequences: [UInt16]
    private var timestamps: [UInt32]
    private var packets: [ByteBuffer?]
    let capacity: Int

    init(capacity: Int) {
        let capacity = max(1, min(capacity, 1 << 16))
        self.capacity = capacity
        sequences = Array(repeating: 0, count: capacity)
        timestamps = Array(repeating: 0, count: capacity)
        packets = Array(repeating: nil, count: capacity)
    }

    mutating func record(sequence: UInt16, timestamp: UInt32, packet: ByteBuffer) {
        let slot = Int(sequence) % capacity
        sequences[slot] = sequence
        timestamps[slot] = timestamp
        packets[slot] = packet
    }

    /// The packet sent with `sequence`, if it is still held.
    func packet(_ sequence: UInt16) -> (packet: ByteBuffer, timestamp: UInt32)? {
        let slot = Int(sequence) % capacity
        guard sequences[slot] == sequence, let packet = packets[slot] else { return nil }
        return (packet, timestamps[slot])
    }

    mutating func clear() {
        for i in packets.indices { packets[i] = nil }
    }
}
