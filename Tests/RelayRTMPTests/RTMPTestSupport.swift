import NIOCore
import RelayRTMP
import RelayTestSupport

func bufferOf(_ bytes: [UInt8]) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeBytes(bytes)
    return buffer
}

func encode(_ messages: [RTMPMessage], chunkSize: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    for message in messages { RTMPChunkEncoder.write(message, chunkSize: chunkSize, into: &buffer) }
    return buffer
}

/// Decodes everything available in `buffer`.
func drain(_ decoder: inout RTMPChunkDecoder, _ buffer: inout ByteBuffer) throws(RTMPError) -> [RTMPMessage] {
    var messages: [RTMPMessage] = []
    while let message = try decoder.next(from: &buffer) { messages.append(message) }
    return messages
}

/// Feeds `input` in pieces ending at `cuts`, accumulating like a channel handler would.
func decodeInPieces(_ input: ByteBuffer, cuts: [Int], decoder: RTMPChunkDecoder = RTMPChunkDecoder()) throws(RTMPError) -> [RTMPMessage] {
    var decoder = decoder
    var accumulated = ByteBuffer()
    var messages: [RTMPMessage] = []
    var start = 0
    for end in cuts + [input.readableBytes] where end >= start {
        accumulated.writeImmutableBuffer(input.getSlice(at: input.readerIndex + start, length: end - start)!)
        messages += try drain(&decoder, &accumulated)
        start = end
    }
    return messages
}

func message(csid: UInt32 = 4, timestamp: UInt32 = 0, type: RTMPMessageType = .audio, msid: UInt32 = 1,
             payload: ByteBuffer) -> RTMPMessage {
    RTMPMessage(chunkStreamID: csid, timestamp: timestamp, type: type, messageStreamID: msid, payload: payload)
}

/// A small, independent SHA-256 / HMAC-SHA256 (FIPS 180-4, RFC 2104), so handshake tests do not
/// check the production code's use of swift-crypto against itself.
enum TestSHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message + [0x80]
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
        for block in stride(from: 0, to: data.count, by: 64) {
            var w = [UInt32](repeating: 0, count: 64)
            for i in 0..<16 {
                w[i] = (0..<4).reduce(0) { $0 << 8 | UInt32(data[block + 4 * i + $1]) }
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, v) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ v }
        }
        return h.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) } }
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var key = key.count > 64 ? hash(key) : key
        key += [UInt8](repeating: 0, count: 64 - key.count)
        let inner = hash(key.map { $0 ^ 0x36 } + message)
        return hash(key.map { $0 ^ 0x5c } + inner)
    }
}

/// The published RTMP handshake keys, spelled out independently of the production code.
enum HandshakeKeys {
    static let tail: [UInt8] = hexBytes("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae")
    static let player = Array("Genuine Adobe Flash Player 001".utf8) + tail
    static let server = Array("Genuine Adobe Flash Media Server 001".utf8) + tail

    /// Digest offset: the block's first four bytes summed, mod 728, after those four bytes.
    static func offset(_ packet: [UInt8], base: Int) -> Int {
        (Int(packet[base]) + Int(packet[base + 1]) + Int(packet[base + 2]) + Int(packet[base + 3])) % 728 + base + 4
    }

    static func digest(_ packet: [UInt8], at offset: Int, key: [UInt8]) -> [UInt8] {
        TestSHA256.hmac(key: key, Array(packet[0..<offset]) + Array(packet[(offset + 32)...]))
    }

    /// True when `packet` carries a valid digest at the block starting at `base` (8 or 772).
    static func hasDigest(_ packet: [UInt8], base: Int, key: [UInt8]) -> Bool {
        let at = offset(packet, base: base)
        return digest(packet, at: at, key: key) == Array(packet[at..<at + 32])
    }

    /// The last 32 bytes of S2/C2: HMAC(HMAC(fullKey, peerDigest), first 1504 bytes).
    static func signature(_ packet: [UInt8], peerDigest: [UInt8], fullKey: [UInt8]) -> [UInt8] {
        TestSHA256.hmac(key: TestSHA256.hmac(key: fullKey, peerDigest), Array(packet[0..<1504]))
    }
}
