import Crypto
import NIOCore

public struct STUNError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A STUN message (RFC 5389) with the attributes an ICE-lite agent reads (RFC 8445 7.1): parsed
/// once, checked against the short-term password with `verifyIntegrity`.
public struct STUNMessage: Sendable {
    public enum Class: Sendable, Equatable { case request, indication, success, error }

    public static let bindingMethod: UInt16 = 0x0001

    public var method: UInt16
    public var messageClass: Class
    /// 12 bytes.
    public var transactionID: [UInt8]
    public var username: String?
    public var priority: UInt32?
    public var useCandidate: Bool
    public var iceControlling: UInt64?
    public var iceControlled: UInt64?
    /// IPv4 and IPv6.
    public var xorMappedAddress: SocketAddress?
    public var errorCode: Int?

    /// The datagram as received (a view, not a copy): integrity and fingerprint cover its bytes.
    private var raw: ByteBuffer
    /// Offsets from the message start of the MESSAGE-INTEGRITY and FINGERPRINT attribute headers.
    private var integrityOffset: Int?
    private var fingerprintOffset: Int?

    static let magicCookie: UInt32 = 0x2112_A442
    static let headerSize = 20
    /// A binding request is about 100 bytes; anything past an Ethernet MTU is not one of ours.
    static let maxDatagram = 1500
    static let maxAttributes = 64
    /// RFC 5389 15.3: USERNAME is under 513 bytes.
    static let maxUsername = 512
    /// FINGERPRINT's CRC is XORed with "STUN" so it differs from the CRC a payload may carry.
    static let fingerprintXOR: UInt32 = 0x5354_554E

    enum Attribute {
        static let username: UInt16 = 0x0006
        static let messageIntegrity: UInt16 = 0x0008
        static let errorCode: UInt16 = 0x0009
        static let xorMappedAddress: UInt16 = 0x0020
        static let priority: UInt16 = 0x0024
        static let useCandidate: UInt16 = 0x0025
        static let software: UInt16 = 0x8022
        static let fingerprint: UInt16 = 0x8028
        static let iceControlled: UInt16 = 0x8029
        static let iceControlling: UInt16 = 0x802A
    }

    /// First byte 0...3, magic cookie 0x2112A442 at 4, length field consistent and a multiple of 4
    /// (RFC 7983 demux + RFC 5389 6): tells STUN from DTLS (20...63) and RTP/RTCP (128...191).
    public static func isSTUN(_ datagram: ByteBuffer) -> Bool {
        let start = datagram.readerIndex
        guard datagram.readableBytes >= headerSize,
              let first = datagram.getInteger(at: start, as: UInt8.self), first < 4,
              let length = datagram.getInteger(at: start + 2, as: UInt16.self),
              let cookie = datagram.getInteger(at: start + 4, as: UInt32.self)
        else { return false }
        return cookie == magicCookie && length % 4 == 0 && Int(length) + headerSize == datagram.readableBytes
    }

    /// Iterative and bounded (<= 1500 bytes, <= 64 attributes); remembers where MESSAGE-INTEGRITY
    /// and FINGERPRINT are. Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored
    /// (RFC 5389 15.4); anything after FINGERPRINT is an error. Unknown attributes are skipped.
    public init(parsing datagram: ByteBuffer) throws(STUNError) {
        guard datagram.readableBytes <= Self.maxDatagram else {
            throw STUNError("STUN message of \(datagram.readableBytes) bytes (at most \(Self.maxDatagram))")
        }
        guard Self.isSTUN(datagram), let type = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self),
              let id = datagram.getBytes(at: datagram.readerIndex + 8, length: 12)
        else { throw STUNError("not a STUN message (first byte, magic cookie or length field)") }
        raw = datagram
        method = type & 0x000F | (type >> 1) & 0x0070 | (type >> 2) & 0x0F80
        messageClass = switch (type >> 7) & 0x2 | (type >> 4) & 0x1 {
        case 0: .request
        case 1: .indication
        case 2: .success
        default: .error
        }
        transactionID = id
        useCandidate = false

        let base = datagram.readerIndex
        let end = datagram.readableBytes
        var offset = Self.headerSize
        var count = 0
        while offset < end {
            count += 1
            guard count <= Self.maxAttributes else { throw STUNError("more than \(Self.maxAttributes) STUN attributes") }
            guard fingerprintOffset == nil else { throw STUNError("STUN attribute after FINGERPRINT") }
            guard let type = datagram.getInteger(at: base + offset, as: UInt16.self),
                  let length = datagram.getInteger(at: base + offset + 2, as: UInt16.self)
            else { throw STUNError("truncated STUN attribute header") }
            let padded = (Int(length) + 3) & ~3
            guard offset + 4 + padded <= end, let value = datagram.getSlice(at: base + offset + 4, length: Int(length)) else {
                throw STUNError("STUN attribute 0x\(String(type, radix: 16)) of \(length) bytes runs past the message")
            }
            if integrityOffset == nil || type == Attribute.fingerprint {
                try read(type, value, at: offset)
            }
            offset += 4 + padded
        }
    }

    private mutating func read(_ type: UInt16, _ value: ByteBuffer, at offset: Int) throws(STUNError) {
        switch type {
        case Attribute.username:
            guard value.readableBytes <= Self.maxUsername,
                  let text = String(validating: value.readableBytesView, as: UTF8.self)
            else { throw STUNError("USERNAME not UTF-8 or over \(Self.maxUsername) bytes") }
            username = text
        case Attribute.priority:
            priority = try Self.integer(value, as: UInt32.self, "PRIORITY")
        case Attribute.useCandidate:
            useCandidate = true
        case Attribute.iceControlling:
            iceControlling = try Self.integer(value, as: UInt64.self, "ICE-CONTROLLING")
        case Attribute.iceControlled:
            iceControlled = try Self.integer(value, as: UInt64.self, "ICE-CONTROLLED")
        case Attribute.xorMappedAddress:
            xorMappedAddress = try Self.xorAddress(value, transactionID: transactionID)
        case Attribute.errorCode:
            guard value.readableBytes >= 4, let classByte = value.getInteger(at: value.readerIndex + 2, as: UInt8.self),
                  let number = value.getInteger(at: value.readerIndex + 3, as: UInt8.self)
            else { throw STUNError("ERROR-CODE shorter than 4 bytes") }
            errorCode = Int(classByte & 0x07) * 100 + Int(number)
        case Attribute.messageIntegrity:
            guard value.readableBytes == 20 else { throw STUNError("MESSAGE-INTEGRITY of \(value.readableBytes) bytes, not 20") }
            integrityOffset = offset
        case Attribute.fingerprint:
            guard value.readableBytes == 4 else { throw STUNError("FINGERPRINT of \(value.readableBytes) bytes, not 4") }
            fingerprintOffset = offset
        default:
            break
        }
    }

    private static func integer<T: FixedWidthInteger>(_ value: ByteBuffer, as: T.Type, _ name: String) throws(STUNError) -> T {
        guard value.readableBytes == MemoryLayout<T>.size, let n = value.getInteger(at: value.readerIndex, as: T.self) else {
            throw STUNError("\(name) of \(value.readableBytes) bytes, not \(MemoryLayout<T>.size)")
        }
        return n
    }

    /// The XOR mask of an address: the magic cookie, then (IPv6) the transaction ID (RFC 5389 15.2).
    static func addressMask(transactionID: [UInt8]) -> [UInt8] {
        [0x21, 0x12, 0xA4, 0x42] + transactionID
    }

    private static func xorAddress(_ value: ByteBuffer, transactionID: [UInt8]) throws(STUNError) -> SocketAddress {
        let start = value.readerIndex
        guard let family = value.getInteger(at: start + 1, as: UInt8.self),
              let port = value.getInteger(at: start + 2, as: UInt16.self)
        else { throw STUNError("XOR-MAPPED-ADDRESS shorter than 4 bytes") }
        let size = family == 1 ? 4 : family == 2 ? 16 : 0
        guard size > 0, value.readableBytes == 4 + size, let bytes = value.getBytes(at: start + 4, length: size) else {
            throw STUNError("XOR-MAPPED-ADDRESS of family \(family) and \(value.readableBytes) bytes")
        }
        let mask = addressMask(transactionID: transactionID)
        let address = ByteBuffer(bytes: zip(bytes, mask).map { $0 ^ $1 })
        do {
            return try SocketAddress(packedIPAddress: address, port: Int(port ^ 0x2112))
        } catch {
            throw STUNError("XOR-MAPPED-ADDRESS: \(error)")
        }
    }

    /// MESSAGE-INTEGRITY present and right for the short-term password (HMAC-SHA1 over the header
    /// with the length adjusted + attributes before it), and FINGERPRINT right when present.
    public func verifyIntegrity(password: String) -> Bool {
        let base = raw.readerIndex
        guard let integrity = integrityOffset, let header = raw.getBytes(at: base, length: 2),
              let rest = raw.getBytes(at: base + 4, length: integrity - 4),
              let mac = raw.getBytes(at: base + integrity + 4, length: 20)
        else { return false }
        // The length field as if MESSAGE-INTEGRITY were the last attribute (RFC 5389 15.4).
        let length = UInt16(truncatingIfNeeded: integrity - Self.headerSize + 24)
        let signed = header + [UInt8(length >> 8), UInt8(length & 0xFF)] + rest
        let key = SymmetricKey(data: Array(password.utf8))
        guard HMAC<Insecure.SHA1>.isValidAuthenticationCode(mac, authenticating: signed, using: key) else { return false }
        return fingerprintMatches
    }

    /// FINGERPRINT right, or absent.
    var fingerprintMatches: Bool {
        guard let fingerprint = fingerprintOffset else { return true }
        let base = raw.readerIndex
        guard let covered = raw.getBytes(at: base, length: fingerprint),
              let value = raw.getInteger(at: base + fingerprint + 4, as: UInt32.self)
        else { return false }
        return CRC32.checksum(covered) ^ Self.fingerprintXOR == value
    }

    var hasFingerprint: Bool { fingerprintOffset != nil }

    /// The 14-bit message type of a method and class (RFC 5389 6: class bits at 4 and 8).
    static func messageType(method: UInt16, class messageClass: Class) -> UInt16 {
        let classBits: UInt16 = switch messageClass {
        case .request: 0
        case .indication: 1
        case .success: 2
        case .error: 3
        }
        return method & 0x000F | (method & 0x0070) << 1 | (method & 0x0F80) << 2
            | (classBits & 1) << 4 | (classBits & 2) << 7
    }
}
