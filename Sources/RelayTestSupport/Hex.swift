import NIOCore

/// Bytes from hex digits as fixtures are written (whitespace ignored, either case). A malformed
/// fixture is a bug in the test, so it stops the test run.
public func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8.filter { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) })
    precondition(digits.count % 2 == 0, "odd hex fixture")
    return stride(from: 0, to: digits.count, by: 2).map { i in
        guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else {
            preconditionFailure("bad hex digit in fixture")
        }
        return byte
    }
}

public func hexBuffer(_ hex: String) -> ByteBuffer {
    ByteBuffer(bytes: hexBytes(hex))
}

/// A deterministic payload of `count` bytes that no two offsets repeat soon (byte i = 31·i + seed),
/// for round trips through packetizers and muxers.
public func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

/// `pattern` as a buffer, for payloads of messages and packets.
public func patternBuffer(_ count: Int, seed: UInt8 = 1) -> ByteBuffer {
    ByteBuffer(bytes: pattern(count, seed: seed))
}
