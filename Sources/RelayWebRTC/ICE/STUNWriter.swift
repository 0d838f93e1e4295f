import Crypto
import NIOCore

/// Builds one STUN message attribute by attribute, keeping the header's length field right, and
/// closes it with MESSAGE-INTEGRITY and FINGERPRINT (RFC 5389 15.4, 15.5).
struct STUNWriter {
    private(set) var buffer: ByteBuffer

    /// A transaction ID other than 12 bytes is cut or zero-padded to 12.
    init(method: UInt16, class messageClass: STUNMessage.Class, transactionID: [UInt8]) {
        buffer = ByteBufferAllocator().buffer(capacity: 128)
        buffer.writeInteger(STUNMessage.messageType(method: method, class: messageClass))
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(STUNMessage.magicCookie)
        let id = transactionID.prefix(12)
        buffer.writeBytes(id)
        buffer.writeRepeatingByte(0, count: 12 - id.count)
    }

    /// `padding`: the byte that fills the value to a multiple of 4 (any value is allowed; RFC 5769's
    /// vectors use spaces).
    mutating func append(_ type: UInt16, _ value: some Collection<UInt8>, padding: UInt8 = 0) {
        buffer.writeInteger(type)
        buffer.writeInteger(UInt16(truncatingIfNeeded: value.count))
        buffer.writeBytes(value)
        buffer.writeRepeatingByte(padding, count: (4 - value.count % 4) % 4)
        setLength()
    }

    mutating func append<T: FixedWidthInteger>(_ type: UInt16, integer: T) {
        var value = ByteBuffer()
        value.writeInteger(integer)
        append(type, value.readableBytesView)
    }

    mutating func appendXORAddress(_ address: SocketAddress) {
        let mask = STUNMessage.addressMask(transactionID: transactionID)
        let (family, bytes): (UInt8, [UInt8]) = switch address {
        case .v4(let a): (1, withUnsafeBytes(of: a.address.sin_addr) { Array($0) })
        case .v6(let a): (2, withUnsafeBytes(of: a.address.sin6_addr) { Array($0) })
        case .unixDomainSocket: (1, [0, 0, 0, 0])
        }
        let port = UInt16(truncatingIfNeeded: address.port ?? 0) ^ 0x2112
        let value = [0, family, UInt8(port >> 8), UInt8(port & 0xFF)] + zip(bytes, mask).map { $0 ^ $1 }
        append(STUNMessage.Attribute.xorMappedAddress, value)
    }

    /// HMAC-SHA1 keyed with the short-term password over everything so far, the length field
    /// already counting this attribute.
    mutating func appendIntegrity(password: String) {
        setLength(adding: 24)
        let key = SymmetricKey(data: Array(password.utf8))
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(buffer.readableBytesView), using: key)
        append(STUNMessage.Attribute.messageIntegrity, Array(mac))
    }

    mutating func appendFingerprint() {
        setLength(adding: 8)
        append(STUNMessage.Attribute.fingerprint, integer: CRC32.checksum(buffer.readableBytesView) ^ STUNMessage.fingerprintXOR)
    }

    private var transactionID: [UInt8] {
        buffer.getBytes(at: buffer.readerIndex + 8, length: 12) ?? []
    }

    private mutating func setLength(adding extra: Int = 0) {
        let length = UInt16(truncatingIfNeeded: buffer.readableBytes - STUNMessage.headerSize + extra)
        buffer.setInteger(length, at: buffer.readerIndex + 2)
    }
}
