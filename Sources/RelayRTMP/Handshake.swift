import Crypto
import NIOCore

/// What the caller of a handshake state machine should do next.
public enum HandshakeStep: Sendable, Equatable {
    /// Feed again once more bytes have arrived.
    case needMoreData
    /// Write these bytes to the peer, then feed again (the buffer may already hold more).
    case send(ByteBuffer)
    /// Handshake finished; bytes left in the buffer are chunk stream data.
    case done
}

/// Either side of the handshake: fed the bytes received, it says what to do next.
public protocol RTMPHandshakeSide {
    mutating func feed(_ buffer: inout ByteBuffer) throws(RTMPError) -> HandshakeStep
}

extension RTMPHandshakeSide {
    /// Feeds `buffer` until the handshake needs more bytes or is done, giving each reply to
    /// `send`; true once it is done (what is left in `buffer` is chunk stream data).
    public mutating func advance(_ buffer: inout ByteBuffer, send: (ByteBuffer) -> Void) throws(RTMPError) -> Bool {
        while true {
            switch try feed(&buffer) {
            case .needMoreData: return false
            case .send(let bytes): send(bytes)
            case .done: return true
            }
        }
    }
}

/// Server side of the RTMP handshake: C0+C1 → S0+S1+S2, then C2.
///
/// Flash Player, FFmpeg and librtmp send a "complex" C1 carrying an HMAC digest and (FFmpeg
/// when playing, Flash always) refuse a server whose S1/S2 do not prove the matching FMS key,
/// so a digest in C1 is answered in kind; anything else gets the plain spec handshake.
public struct RTMPHandshakeServer: RTMPHandshakeSide, Sendable {
    private enum State: Sendable { case waitingForC0C1, waitingForC2, done }

    private var state = State.waitingForC0C1
    /// Whether C1 carried a valid digest and S1/S2 were built for the complex handshake.
    public private(set) var usedComplexHandshake = false

    public init() {}

    public mutating func feed(_ buffer: inout ByteBuffer) throws(RTMPError) -> HandshakeStep {
        switch state {
        case .waitingForC0C1:
            guard let version = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
            guard version == RTMPHandshake.version else { throw .badHandshakeVersion(version) }
            guard buffer.readableBytes >= 1 + RTMPHandshake.packetSize,
                  let c1 = buffer.getBytes(at: buffer.readerIndex + 1, length: RTMPHandshake.packetSize) else {
                return .needMoreData
            }
            buffer.moveReaderIndex(forwardBy: 1 + RTMPHandshake.packetSize)
            state = .waitingForC2
            return .send(response(to: c1))
        case .waitingForC2:
            guard buffer.readableBytes >= RTMPHandshake.packetSize else { return .needMoreData }
            // C2 is not checked: many clients send junk there, and nothing depends on it.
            buffer.moveReaderIndex(forwardBy: RTMPHandshake.packetSize)
            state = .done
            return .done
        case .done:
            return .done
        }
    }

    private mutating func response(to c1: [UInt8]) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 1 + 2 * RTMPHandshake.packetSize)
        out.writeInteger(RTMPHandshake.version)
        if let (scheme, offset) = RTMPHandshake.findDigest(in: c1, key: RTMPHandshake.playerKey.prefix(30)) {
            usedComplexHandshake = true
            var s1 = RTMPHandshake.randomBytes(RTMPHandshake.packetSize)
            s1.replaceSubrange(0..<8, with: [0, 0, 0, 0, 4, 5, 0, 1])  // time 0, "FMS 4.5.0.1"
            RTMPHandshake.imprintDigest(&s1, scheme: scheme, key: RTMPHandshake.serverKey.prefix(36))
            var s2 = RTMPHandshake.randomBytes(RTMPHandshake.packetSize)
            RTMPHandshake.sign(&s2, peerDigest: c1[offset..<offset + 32], key: RTMPHandshake.serverKey)
            out.writeBytes(s1)
            out.writeBytes(s2)
        } else {
            out.writeBytes([0, 0, 0, 0, 0, 0, 0, 0] as [UInt8])  // time 0, zero
            out.writeBytes(RTMPHandshake.randomBytes(RTMPHandshake.packetSize - 8))
            out.writeBytes(c1)  // S2 echoes C1
        }
        return out
    }
}

/// Client side of the RTMP handshake (for pulling/pushing to another server).
public struct RTMPHandshakeClient: RTMPHandshakeSide, Sendable {
    private enum State: Sendable { case initial, waitingForS0S1S2, sentC2 }

    public let complex: Bool
    private var state = State.initial
    private var c1: [UInt8] = []
    private var c1DigestOffset = 0
    /// Complex handshake only: S1 carried a valid FMS digest and S2 the matching signature.
    public private(set) var serverVerified = false

    public init(complex: Bool = false) {
        self.complex = complex
    }

    /// Returns C0+C1, to be sent first.
    public mutating func start() -> ByteBuffer {
        var c1 = RTMPHandshake.randomBytes(RTMPHandshake.packetSize)
        if complex {
            c1.replaceSubrange(0..<8, with: [0, 0, 0, 0, 9, 0, 124, 2])  // time 0, "Flash 9.0.124.2"
            c1DigestOffset = RTMPHandshake.imprintDigest(&c1, scheme: .digestFirst,
                                                         key: RTMPHandshake.playerKey.prefix(30))
        } else {
            c1.replaceSubrange(0..<8, with: repeatElement(0, count: 8))
        }
        self.c1 = c1
        state = .waitingForS0S1S2
        var out = ByteBufferAllocator().buffer(capacity: 1 + RTMPHandshake.packetSize)
        out.writeInteger(RTMPHandshake.version)
        out.writeBytes(c1)
        return out
    }

    /// Call after `start()` (bytes before it are a protocol error). Returns `.send(C2)` once
    /// S0+S1+S2 are in, `.done` after that.
    public mutating func feed(_ buffer: inout ByteBuffer) throws(RTMPError) -> HandshakeStep {
        switch state {
        case .initial:
            throw .handshakeBeforeC0
        case .sentC2:
            return .done
        case .waitingForS0S1S2:
            guard let version = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
            guard version == RTMPHandshake.version else { throw .badHandshakeVersion(version) }
            let size = RTMPHandshake.packetSize
            guard var c2 = buffer.getBytes(at: buffer.readerIndex + 1, length: size),  // S1; echoed unless complex
                  let s2 = buffer.getBytes(at: buffer.readerIndex + 1 + size, length: size) else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 1 + 2 * size)
            if complex, let (_, offset) = RTMPHandshake.findDigest(in: c2, key: RTMPHandshake.serverKey.prefix(36)) {
                var expected = s2
                RTMPHandshake.sign(&expected, peerDigest: c1[c1DigestOffset..<c1DigestOffset + 32],
                                   key: RTMPHandshake.serverKey)
                serverVerified = expected == s2
                let s1Digest = c2[offset..<offset + 32]
                c2 = RTMPHandshake.randomBytes(RTMPHandshake.packetSize)
                RTMPHandshake.sign(&c2, peerDigest: s1Digest, key: RTMPHandshake.playerKey)
            }
            state = .sentC2
            var out = ByteBufferAllocator().buffer(capacity: RTMPHandshake.packetSize)
            out.writeBytes(c2)
            return .send(out)
        }
    }
}

/// The digest ("complex", Flash 9+) handshake, which Adobe never specified; this follows the
/// layout every implementation agrees on. A 1536-byte packet is time(4) version(4) and two
/// 764-byte blocks; one block holds a 32-byte HMAC-SHA256 digest at an offset derived from its
/// first four bytes, computed over the packet minus those 32 bytes.
enum RTMPHandshake {
    static let version: UInt8 = 3
    static let packetSize = 1536
    private static let sharedKeyTail: [UInt8] = [
        0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
        0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
    ]
    /// "Genuine Adobe Flash Player 001" + 32 constant bytes; the 30-byte prefix signs C1.
    static let playerKey: [UInt8] = Array("Genuine Adobe Flash Player 001".utf8) + sharedKeyTail
    /// "Genuine Adobe Flash Media Server 001" + 32 constant bytes; the 36-byte prefix signs S1.
    static let serverKey: [UInt8] = Array("Genuine Adobe Flash Media Server 001".utf8) + sharedKeyTail

    /// Where the digest block sits. Names follow SRS: scheme 0 = key block first (digest block
    /// at 772), scheme 1 = digest block first (at 8, what Flash/FFmpeg/librtmp send).
    enum Scheme: Sendable { case keyFirst, digestFirst }

    static func digestOffset(_ packet: [UInt8], scheme: Scheme) -> Int {
        let base = scheme == .digestFirst ? 8 : 772
        let sum = Int(packet[base]) + Int(packet[base + 1]) + Int(packet[base + 2]) + Int(packet[base + 3])
        return sum % 728 + base + 4
    }

    /// HMAC-SHA256 of the packet with the 32 bytes at `offset` left out.
    static func digest(_ packet: [UInt8], excluding offset: Int, key: ArraySlice<UInt8>) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key))
        hmac.update(data: packet[0..<offset])
        hmac.update(data: packet[(offset + 32)...])
        return Array(hmac.finalize())
    }

    /// Finds a valid digest under either scheme, trying the common one first.
    static func findDigest(in packet: [UInt8], key: ArraySlice<UInt8>) -> (Scheme, Int)? {
        for scheme in [Scheme.digestFirst, .keyFirst] {
            let offset = digestOffset(packet, scheme: scheme)
            if digest(packet, excluding: offset, key: key)[...] == packet[offset..<offset + 32] {
                return (scheme, offset)
            }
        }
        return nil
    }

    /// Writes the digest into `packet` and returns its offset.
    @discardableResult
    static func imprintDigest(_ packet: inout [UInt8], scheme: Scheme, key: ArraySlice<UInt8>) -> Int {
        let offset = digestOffset(packet, scheme: scheme)
        packet.replaceSubrange(offset..<offset + 32, with: digest(packet, excluding: offset, key: key))
        return offset
    }

    /// Replaces the last 32 bytes of `packet` (S2/C2) with HMAC(HMAC(key, peerDigest), rest).
    static func sign(_ packet: inout [UInt8], peerDigest: ArraySlice<UInt8>, key: [UInt8]) {
        let derived = HMAC<SHA256>.authenticationCode(for: peerDigest, using: SymmetricKey(data: key))
        let signature = HMAC<SHA256>.authenticationCode(for: packet[0..<(packetSize - 32)],
                                                        using: SymmetricKey(data: Array(derived)))
        packet.replaceSubrange((packetSize - 32)..<packetSize, with: Array(signature))
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}
