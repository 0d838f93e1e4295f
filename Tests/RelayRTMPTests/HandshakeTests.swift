import NIOCore
import RelayRTMP
import Testing
import RelayTestSupport

/// C0+C1 sent by FFmpeg 5.1 (`ffmpeg ... -f flv rtmp://...`): version 9.0.124.2, digest in the
/// first block. Base64 of the 1536 C1 bytes.
private let ffmpegC1Base64 = """
    AAAAAAkAfAL3eFUezquOHjYvB8WGinCyZtQCIOUIYRiiLjaX1fwrYynCLufHybC1s0XfqDmP6jvIeSCKEGhCWqEXTLVyWM/r4k2k
    LsT/naGce0BvGMlb/dBO5ItvgzIUpHuL9o6wUlTiWumpqLSWxUlvbpzXxoy2vMhBaeZ/Pjcv/hhtqFE4YsWv3rWhIYqGC6zN2Gmy
    U9urig77WaSMRCCZh15Vt0/QehtprzA+CZhzy3fi2eLEdB6x9Qan8LKWKvkfUFHIkKMgmU9MizagH6nA8V9LfPe2w4F9pgkYYR07
    Av98yUA4k3U30zguQWvVdXeDTfnK90g1IVDOktDbtA6HH8Nk4Yt+NWnjmHbBrgy3n/bXqzL58BGGnI2kGR70bTwbxrctg4EvIkPR
    dSpBJjLWaiB19dMC9FzfK5i4AreYBdxIN9hO3tHMQsun7sMTe/ht0LLX9iTVIaP/ZVvPDfQQE0HSMOlGUWKORaer+BgxAc6YHl6G
    pvrsXHmqfscYHqRZ7ZZuDJMqb55L9VSrexyQXN4FTtQNL7ibv8ZXUuWM/eTyoE3DrR5e9Pxk1XsHHBQUakUfagQxVtKID1lX1439
    P/K4gPYkrHDycJTzdzTq8ZJPZqw9ZIriMpMFRKRCC2Xu1Glvf1D+BfyUhRZlC/ubZflT2EjjRWll0NdrYnqE416d2r2LQ/D62u5F
    jN9Z69dzki4K5QfV5kCS6Q7GfthDno8iHHU6n5IW8cuFtRB7x8x8T7LD7tGvxwmxkvUN5pwf/KVlDvtSO1+rWZfKxLfvWvK/WXPm
    KTuuH8HaSZvlUVB33k3bP3+810FxHGK32AO40FTPV4GCcU0cRFvWkrobg5oJ5yZvyF2qj61DPau9IGzeHqVxdwxr+nlWwmbuhDXr
    Acqm9YPA2Dwz7vzz+X25F72ymfion7iGCrHNZEwegszhMjqet50l9dxXC3C0C7IAYXQzU9BTbs2r2C8id3ViKMtU/mkyxMm9Ew0r
    /HAL9dhdppRulvguCv2OnCDP6r+aahibsXu+9TnR2ec+6Wb8tda9v5hETehlvhYF40CHs0zfBOOv9VvUE3xSLS48e/JjTbMmsipH
    Tbf4oJUqs1EN5VU5bBijeKg5C3O/93cvsnYPpXhqOwRZxFodGw3/TLu2XaDtNPMhFsPCzCuVglERvPuyRsFQWqAMlw0G12zJUM42
    iyINsgSHy6ArsfxUs2VntCkT1riFBizXeVYB0xpKjm1WRn+lxSFiZ2/VJhIlE8Pkfy5tnWoZxPh5VDGpTO0DkiHSesaKencOkwUl
    InFFm3HQVQXEl3tw6WhRIIus3N9+aCs4SIQIgPH+wqMvsUBoYryDytia33KfO6b/0/6AjoQD58ag9tzaMhGJj28WUFsHjMeLgNtg
    De0vIA8l/13LMdMsviBWuL3DEJFjGrvSrCjWH+MkgOxQNbvzXxczk/DVmiHSMAsttLWeqmP/4Pk9ZdwChRaQXyKpx9/zh8TreMYw
    Dn67sqZmPPvlqZd8r1dkuj8KulfbTmBR4K7G4Fsb2qZJqXh17bxAvMQhS7f+9ycw1DaKy9PhCrTHZCocU/k8om25x2ZVW+Jv3/Di
    pyFCW5V2Kwt3b9Pj6xcxPVMSnJ80ADyZpRlqjGqsttZLUd2YsnxbWacL2UGhugMA+3RM/EmdmX5tkzktKKdn0RbfvCy560BUDRHr
    MErZMiOG/cWX1V09HGe8VN81R5r7Geos0gTdMx77ScHhcva7ifv1ggfcrmwS+KdZi+8ehywMNfIrTCnfEPm7Gt0664h6tfs4wDa4
    g0b3YcQvKV3+C0N9+08wpxJ2q31AnOQklj+eu08fR+UrGHhvJ5tahyJvZpgd1tCtEfSa8xBV/2lxD9o0V8S3hS2y45NtB3i/h58X
    NK06JP+xrpWEdgucsEUqU7oJYv/i9gWvUoML0hGlSIiUzAsFIlUEhxHNGYUQqelDv4uDkZhFX71BBzAF0wOZC4jZtjZW1Dz+yO2D
    dI9LDw/FEgIWeUsioFTlvFir2MQQlgcIhDk0U85QlpSvvqvg
    """

private func bytes(_ buffer: ByteBuffer) -> [UInt8] { buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes)! }

/// A C1 built by the published algorithm, independently of the production code.
private func complexC1(digestBlockBase base: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var c1 = (0..<1536).map { _ in UInt8.random(in: 0...255, using: &generator) }
    c1.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0x80, 0, 7, 2])
    let at = HandshakeKeys.offset(c1, base: base)
    c1.replaceSubrange(at..<at + 32, with: HandshakeKeys.digest(c1, at: at, key: Array(HandshakeKeys.player.prefix(30))))
    return c1
}

/// Runs the server on C0+C1 and checks S1/S2 the way FFmpeg's client does.
private func checkServerResponse(toC1 c1: [UInt8], base: Int) throws {
    var server = RTMPHandshakeServer()
    var input = bufferOf([3] + c1)
    guard case .send(let response) = try server.feed(&input) else {
        Issue.record("server did not answer C0+C1")
        return
    }
    #expect(server.usedComplexHandshake)
    let out = bytes(response)
    #expect(out.count == 1 + 2 * 1536)
    #expect(out[0] == 3)
    let s1 = Array(out[1...1536])
    let s2 = Array(out[1537...])
    #expect(HandshakeKeys.hasDigest(s1, base: base, key: Array(HandshakeKeys.server.prefix(36))),
            "S1 must carry an FMS digest in the same scheme as C1")
    let c1At = HandshakeKeys.offset(c1, base: base)
    let signature = HandshakeKeys.signature(s2, peerDigest: Array(c1[c1At..<c1At + 32]), fullKey: HandshakeKeys.server)
    #expect(Array(s2[1504...]) == signature, "S2 must be signed with HMAC(FMS key, C1 digest)")
}

@Suite struct HandshakeTests {
    @Test func independentSHA256MatchesKnownVectors() {
        #expect(TestSHA256.hash(Array("abc".utf8)) == hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(TestSHA256.hmac(key: Array("key".utf8), Array("The quick brown fox jumps over the lazy dog".utf8))
                == hexBytes("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"))
    }

    @Test(arguments: [false, true])
    func clientAgainstServer(complex: Bool) throws {
        var client = RTMPHandshakeClient(complex: complex)
        var server = RTMPHandshakeServer()
        var toServer = client.start()
        #expect(toServer.readableBytes == 1537)
        let c1 = Array(bytes(toServer)[1...])

        guard case .send(var toClient) = try server.feed(&toServer) else {
            Issue.record("server did not answer C0+C1")
            return
        }
        #expect(try server.feed(&toServer) == .needMoreData)
        #expect(server.usedComplexHandshake == complex)
        if !complex {
            #expect(Array(bytes(toClient)[1537...]) == c1, "simple S2 echoes C1")
        }

        guard case .send(let c2) = try client.feed(&toClient) else {
            Issue.record("client did not answer S0+S1+S2")
            return
        }
        #expect(toClient.readableBytes == 0)
        #expect(client.serverVerified == complex)
        #expect(try client.feed(&toClient) == .done)

        var afterC2 = c2
        afterC2.writeBytes([0x03, 0x00])  // first bytes of the chunk stream
        #expect(try server.feed(&afterC2) == .done)
        #expect(bytes(afterC2) == [0x03, 0x00], "bytes after C2 belong to the chunk decoder")
        #expect(try server.feed(&afterC2) == .done)
        #expect(afterC2.readableBytes == 2)
    }

    @Test(arguments: [8, 772])
    func complexC1BuiltByTheAlgorithmIsDetected(base: Int) throws {
        try checkServerResponse(toC1: complexC1(digestBlockBase: base), base: base)
    }

    @Test func ffmpegC1IsDetected() throws {
        let c1 = hexBytes(base64Hex(ffmpegC1Base64))
        #expect(c1.count == 1536)
        #expect(HandshakeKeys.hasDigest(c1, base: 8, key: Array(HandshakeKeys.player.prefix(30))))
        try checkServerResponse(toC1: c1, base: 8)
    }

    @Test func corruptedDigestFallsBackToSimple() throws {
        var c1 = complexC1(digestBlockBase: 8)
        let at = HandshakeKeys.offset(c1, base: 8)
        c1[at] ^= 0xFF
        var server = RTMPHandshakeServer()
        var input = bufferOf([3] + c1)
        guard case .send(let response) = try server.feed(&input) else {
            Issue.record("server did not answer")
            return
        }
        #expect(!server.usedComplexHandshake)
        #expect(Array(bytes(response)[1537...]) == c1)
        #expect(bytes(response)[5..<9] == [0, 0, 0, 0], "simple S1 has a zero version field")
    }

    @Test func truncatedInputWaits() throws {
        var client = RTMPHandshakeClient()
        let c0c1 = client.start()
        var server = RTMPHandshakeServer()
        var accumulated = ByteBuffer()
        var response: ByteBuffer?
        for index in 0..<c0c1.readableBytes {
            accumulated.writeImmutableBuffer(c0c1.getSlice(at: index, length: 1)!)
            let step = try server.feed(&accumulated)
            if index < c0c1.readableBytes - 1 {
                #expect(step == .needMoreData)
                #expect(accumulated.readableBytes == index + 1, "nothing consumed before C0+C1 are complete")
            } else if case .send(let bytes) = step {
                response = bytes
            }
        }
        var s = try #require(response)
        #expect(accumulated.readableBytes == 0)

        // The client waits for the whole S0+S1+S2 too.
        var partial = s.readSlice(length: 1536)!
        #expect(try client.feed(&partial) == .needMoreData)
        partial.writeImmutableBuffer(s)
        guard case .send(let c2) = try client.feed(&partial) else {
            Issue.record("client did not produce C2")
            return
        }
        var c2Part = c2.getSlice(at: 0, length: 1535)!
        #expect(try server.feed(&c2Part) == .needMoreData)
        c2Part.writeBytes([c2.getInteger(at: 1535, as: UInt8.self)!])
        #expect(try server.feed(&c2Part) == .done)
    }

    @Test func badVersionIsRejectedEarly() throws {
        var server = RTMPHandshakeServer()
        var rtmpe = bufferOf([6])
        #expect(throws: RTMPError.badHandshakeVersion(6)) { try server.feed(&rtmpe) }
        var empty = ByteBuffer()
        var fresh = RTMPHandshakeServer()
        #expect(try fresh.feed(&empty) == .needMoreData)

        var client = RTMPHandshakeClient()
        _ = client.start()
        var badS0 = bufferOf([0x0A, 0, 0])
        #expect(throws: RTMPError.badHandshakeVersion(10)) { try client.feed(&badS0) }

        // A server that speaks first is refused, not a trap.
        var early = RTMPHandshakeClient()
        var s0 = bufferOf([3, 0, 0])
        #expect(throws: RTMPError.handshakeBeforeC0) { try early.feed(&s0) }
    }
}

/// Base64 → hex, so the captured C1 can be stored compactly without Foundation.
private func base64Hex(_ text: String) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var values: [UInt8] = []
    var bits = 0
    var accumulator = 0
    for char in text.utf8 {
        guard let value = alphabet.firstIndex(of: char) else { continue }
        accumulator = (accumulator << 6 | value) & 0xFFFF
        bits += 6
        if bits >= 8 {
            bits -= 8
            values.append(UInt8(truncatingIfNeeded: accumulator >> bits))
        }
    }
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: values.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
}
