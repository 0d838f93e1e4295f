import NIOCore
import RelayCore
import Testing
@testable import RelayWebRTC

/// RFC 5769's test vectors (2.1 request, 2.2 IPv4 and 2.3 IPv6 responses) read, verified and built
/// again byte for byte; the relay's own messages read back; damaged input refused, never a trap.
@Suite struct STUNMessageTests {
    static let transactionID: [UInt8] = [0xB7, 0xE7, 0xA7, 0x01, 0xBC, 0x34, 0xD6, 0x86, 0xFA, 0x87, 0xDF, 0xAE]
    static let password = "VOkJxbRl1RmTxUk/WvJxBt"

    static let request: [UInt8] = [
        0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xA4, 0x42, 0xB7, 0xE7, 0xA7, 0x01, 0xBC, 0x34, 0xD6, 0x86,
        0xFA, 0x87, 0xDF, 0xAE, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4E, 0x20, 0x74, 0x65, 0x73,
        0x74, 0x20, 0x63, 0x6C, 0x69, 0x65, 0x6E, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6E, 0x00, 0x01, 0xFF,
        0x80, 0x29, 0x00, 0x08, 0x93, 0x2F, 0xF9, 0xB1, 0x51, 0x26, 0x3B, 0x36, 0x00, 0x06, 0x00, 0x09,
        0x65, 0x76, 0x74, 0x6A, 0x3A, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
        0x9A, 0xEA, 0xA7, 0x0C, 0xBF, 0xD8, 0xCB, 0x56, 0x78, 0x1E, 0xF2, 0xB5, 0xB2, 0xD3, 0xF2, 0x49,
        0xC1, 0xB5, 0x71, 0xA2, 0x80, 0x28, 0x00, 0x04, 0xE5, 0x7A, 0x3B, 0xCF,
    ]
    static let responseIPv4: [UInt8] = [
        0x01, 0x01, 0x00, 0x3C, 0x21, 0x12, 0xA4, 0x42, 0xB7, 0xE7, 0xA7, 0x01, 0xBC, 0x34, 0xD6, 0x86,
        0xFA, 0x87, 0xDF, 0xAE, 0x80, 0x22, 0x00, 0x0B, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
        0x74, 0x6F, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xA1, 0x47, 0xE1, 0x12, 0xA6, 0x43,
        0x00, 0x08, 0x00, 0x14, 0x2B, 0x91, 0xF5, 0x99, 0xFD, 0x9E, 0x90, 0xC3, 0x8C, 0x74, 0x89, 0xF9,
        0x2A, 0xF9, 0xBA, 0x53, 0xF0, 0x6B, 0xE7, 0xD7, 0x80, 0x28, 0x00, 0x04, 0xC0, 0x7D, 0x4C, 0x96,
    ]
    static let responseIPv6: [UInt8] = [
        0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xA4, 0x42, 0xB7, 0xE7, 0xA7, 0x01, 0xBC, 0x34, 0xD6, 0x86,
        0xFA, 0x87, 0xDF, 0xAE, 0x80, 0x22, 0x00, 0x0B, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
        0x74, 0x6F, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xA1, 0x47, 0x01, 0x13, 0xA9, 0xFA,
        0xA5, 0xD3, 0xF1, 0x79, 0xBC, 0x25, 0xF4, 0xB5, 0xBE, 0xD2, 0xB9, 0xD9, 0x00, 0x08, 0x00, 0x14,
        0xA3, 0x82, 0x95, 0x4E, 0x4B, 0xE6, 0x7B, 0xF1, 0x17, 0x84, 0xC9, 0x7C, 0x82, 0x92, 0xC2, 0x75,
        0xBF, 0xE3, 0xED, 0x41, 0x80, 0x28, 0x00, 0x04, 0xC8, 0xFB, 0x0B, 0x4C,
    ]
    static let vectors = [request, responseIPv4, responseIPv6]

    func parse(_ bytes: [UInt8]) throws -> STUNMessage {
        try STUNMessage(parsing: ByteBuffer(bytes: bytes))
    }

    @Test func crc32IsZlibs() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test func sampleRequest() throws {
        let message = try parse(Self.request)
        #expect(message.method == STUNMessage.bindingMethod)
        #expect(message.messageClass == .request)
        #expect(message.transactionID == Self.transactionID)
        #expect(message.username == "evtj:h6vY")
        #expect(message.priority == 0x6E00_01FF)
        #expect(message.iceControlled == 0x932F_F9B1_5126_3B36)
        #expect(message.iceControlling == nil)
        #expect(!message.useCandidate)
        #expect(message.verifyIntegrity(password: Self.password))
        #expect(!message.verifyIntegrity(password: Self.password + "x"))
    }

    @Test func sampleResponses() throws {
        let v4 = try parse(Self.responseIPv4)
        #expect(v4.messageClass == .success)
        #expect(v4.xorMappedAddress == (try SocketAddress(ipAddress: "192.0.2.1", port: 32853)))
        #expect(v4.verifyIntegrity(password: Self.password))
        let v6 = try parse(Self.responseIPv6)
        #expect(v6.xorMappedAddress == (try SocketAddress(ipAddress: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853)))
        #expect(v6.verifyIntegrity(password: Self.password))
    }

    /// The writer, fed the vectors' attributes (padded with spaces as the RFC's are), produces the
    /// same bytes: the same MESSAGE-INTEGRITY and FINGERPRINT.
    @Test func writerReproducesTheVectors() throws {
        var request = STUNWriter(method: STUNMessage.bindingMethod, class: .request, transactionID: Self.transactionID)
        request.append(0x8022, Array("STUN test client".utf8))
        request.append(0x0024, integer: UInt32(0x6E00_01FF))
        request.append(0x8029, integer: UInt64(0x932F_F9B1_5126_3B36))
        request.append(0x0006, Array("evtj:h6vY".utf8), padding: 0x20)
        request.appendIntegrity(password: Self.password)
        request.appendFingerprint()
        #expect(Array(request.buffer.readableBytesView) == Self.request)

        for (address, vector) in [("192.0.2.1", Self.responseIPv4), ("2001:db8:1234:5678:11:2233:4455:6677", Self.responseIPv6)] {
            var response = STUNWriter(method: STUNMessage.bindingMethod, class: .success, transactionID: Self.transactionID)
            response.append(0x8022, Array("test vector".utf8), padding: 0x20)
            response.appendXORAddress(try SocketAddress(ipAddress: address, port: 32853))
            response.appendIntegrity(password: Self.password)
            response.appendFingerprint()
            #expect(Array(response.buffer.readableBytesView) == vector)
        }
    }

    @Test func bindingSuccessReadsBack() throws {
        for address in ["192.0.2.1", "2001:db8:1234:5678:11:2233:4455:6677"] {
            let mapped = try SocketAddress(ipAddress: address, port: 32853)
            let bytes = STUN.bindingSuccess(transactionID: Self.transactionID, mapped: mapped, password: Self.password)
            #expect(STUNMessage.isSTUN(bytes))
            let message = try STUNMessage(parsing: bytes)
            #expect(message.messageClass == .success && message.method == STUNMessage.bindingMethod)
            #expect(message.transactionID == Self.transactionID)
            #expect(message.xorMappedAddress == mapped)
            #expect(message.hasFingerprint)
            #expect(message.verifyIntegrity(password: Self.password))
            #expect(!message.verifyIntegrity(password: "another password of 24"))
        }
        // The XOR-MAPPED-ADDRESS attribute is the vector's.
        let v4 = STUN.bindingSuccess(transactionID: Self.transactionID, mapped: try SocketAddress(ipAddress: "192.0.2.1", port: 32853),
                                     password: Self.password)
        #expect(Array(v4.readableBytesView.dropFirst(20).prefix(12)) == Array(Self.responseIPv4[36..<48]))
    }

    @Test func bindingRequestReadsBack() throws {
        for useCandidate in [false, true] {
            let bytes = STUN.bindingRequest(transactionID: Self.transactionID, username: "relayUfr:7hUs", password: Self.password,
                                            priority: 0x6E00_01FF, tieBreaker: 0x0102_0304_0506_0708, useCandidate: useCandidate)
            let message = try STUNMessage(parsing: bytes)
            #expect(message.messageClass == .request)
            #expect(message.username == "relayUfr:7hUs")
            #expect(message.priority == 0x6E00_01FF)
            #expect(message.iceControlling == 0x0102_0304_0506_0708)
            #expect(message.useCandidate == useCandidate)
            #expect(message.verifyIntegrity(password: Self.password))
        }
    }

    @Test func bindingErrorReadsBack() throws {
        let signed = try STUNMessage(parsing: STUN.bindingError(transactionID: Self.transactionID, code: 487, reason: "Role Conflict",
                                                                password: Self.password))
        #expect(signed.messageClass == .error && signed.errorCode == 487)
        #expect(signed.verifyIntegrity(password: Self.password))
        let unsigned = try STUNMessage(parsing: STUN.bindingError(transactionID: Self.transactionID, code: 401, reason: "Unauthorized",
                                                                  password: nil))
        #expect(unsigned.errorCode == 401)
        #expect(unsigned.hasFingerprint && unsigned.fingerprintMatches)
        #expect(!unsigned.verifyIntegrity(password: Self.password))
    }

    /// Every single changed byte of a signed message is caught: the parse throws or the check
    /// fails — except in FINGERPRINT's type, which makes it an unknown attribute after
    /// MESSAGE-INTEGRITY (ignored, RFC 5389 15.4): then the message has no fingerprint.
    @Test func tamperedBytesFailTheCheck() {
        for vector in Self.vectors {
            for index in vector.indices {
                var bytes = vector
                bytes[index] ^= 0x01
                let message = try? parse(bytes)
                if index >= vector.count - 8, index < vector.count - 6 {
                    #expect(message?.hasFingerprint != true, "byte \(index)")
                } else {
                    #expect(message?.verifyIntegrity(password: Self.password) != true, "byte \(index)")
                }
            }
        }
    }

    @Test func damagedInputThrows() throws {
        // Truncated anywhere.
        for length in 0..<Self.request.count {
            #expect(throws: STUNError.self) { try parse(Array(Self.request.prefix(length))) }
        }
        // An attribute whose length runs past the message.
        var huge = Self.request
        huge[22] = 0xFF
        huge[23] = 0xFC
        #expect(throws: STUNError.self) { try parse(huge) }
        // Attribute after FINGERPRINT.
        var after = Self.request + [0x80, 0x22, 0x00, 0x00]
        after[3] = 0x5C
        #expect(throws: STUNError.self) { try parse(after) }
        // More than 64 attributes.
        var many: [UInt8] = [0x00, 0x01, 0x01, 0x04, 0x21, 0x12, 0xA4, 0x42] + Self.transactionID
        for _ in 0..<65 { many += [0x80, 0x22, 0x00, 0x00] }
        #expect(throws: STUNError.self) { try parse(many) }
        // Bad sizes of known attributes.
        var priority = Self.request
        priority[43] = 0x08  // PRIORITY of 8 bytes swallows ICE-CONTROLLED's header
        #expect(throws: STUNError.self) { try parse(priority) }
        // Not STUN: RTP, DTLS, a wrong cookie, an unaligned length.
        for first: UInt8 in [0x80, 0x16, 0x40] {
            var bytes = Self.request
            bytes[0] = first
            #expect(!STUNMessage.isSTUN(ByteBuffer(bytes: bytes)))
            #expect(throws: STUNError.self) { try parse(bytes) }
        }
        var cookie = Self.request
        cookie[4] = 0x22
        #expect(!STUNMessage.isSTUN(ByteBuffer(bytes: cookie)))
        #expect(throws: STUNError.self) { try parse(Array(repeating: 0, count: 2000)) }
    }

    @Test func readsFromAnOffsetBuffer() throws {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB, 0xCC] + Self.request)
        buffer.moveReaderIndex(forwardBy: 3)
        #expect(try STUNMessage(parsing: buffer).verifyIntegrity(password: Self.password))
    }

    /// 2000 random mutations of the vectors (bytes flipped, cut, grown, lengths made huge): each
    /// parses or throws; none traps.
    @Test func randomMutationsNeverTrap() {
        var rng = SplitMix64(seed: 22)
        var parsed = 0
        for round in 0..<2000 {
            var bytes = Self.vectors[round % 3]
            switch rng.next() % 4 {
            case 0:
                for _ in 0...(rng.next() % 4) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 2:
                bytes += (0..<(4 * Int(rng.next() % 8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let length = bytes.count - 20
                bytes[2] = UInt8(truncatingIfNeeded: length >> 8)
                bytes[3] = UInt8(truncatingIfNeeded: length)
            default:
                // An attribute length field (at a 4-aligned offset past the header) set to anything.
                let at = 20 + 4 * Int(rng.next() % UInt64((bytes.count - 20) / 4)) + 2
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                bytes[at + 1] = UInt8(truncatingIfNeeded: rng.next())
            }
            if let message = try? parse(bytes) {
                parsed += 1
                _ = message.verifyIntegrity(password: Self.password)
            }
        }
        #expect(parsed > 0 && parsed < 2000)
    }

    @Test func randomCredentials() {
        let a = ICECredentials.random()
        let b = ICECredentials.random()
        #expect(a.ufrag.utf8.count == 8 && a.password.utf8.count == 24)
        #expect(a != b)
        #expect(ICECredentials.isValid(ufrag: a.ufrag, password: a.password))
        #expect(!ICECredentials.isValid(ufrag: "ab", password: a.password))
        #expect(!ICECredentials.isValid(ufrag: a.ufrag, password: String(a.password.prefix(21))))
        #expect(!ICECredentials.isValid(ufrag: "abc d", password: a.password))
    }
}
