import NIOCore
import Testing
@testable import RelayWebRTC

/// Two endpoints wired back to back in memory; `deliver` carries one side's datagrams to the other.
private struct Pair {
    let server: DTLSEndpoint
    let client: DTLSEndpoint
    var serverKeys: SRTPKeys?
    var clientKeys: SRTPKeys?
    var serverClosed: String?
    var clientClosed: String?
    var largestDatagram = 0

    init(serverExpects: String?, clientExpects: String?, mtu: Int = 1200) throws {
        let serverCertificate = try DTLSCertificate.generate(commonName: "server")
        let clientCertificate = try DTLSCertificate.generate(commonName: "client")
        server = try DTLSEndpoint(role: .server, certificate: serverCertificate,
                                  remoteFingerprint: serverExpects ?? clientCertificate.fingerprint, mtu: mtu)
        client = try DTLSEndpoint(role: .client, certificate: clientCertificate,
                                  remoteFingerprint: clientExpects ?? serverCertificate.fingerprint, mtu: mtu)
    }

    /// Applies what one call produced; returns the datagrams for the other side.
    mutating func note(_ output: DTLSOutput, fromServer: Bool) -> [ByteBuffer] {
        if fromServer {
            serverKeys = output.keys ?? serverKeys
            serverClosed = output.closed ?? serverClosed
        } else {
            clientKeys = output.keys ?? clientKeys
            clientClosed = output.closed ?? clientClosed
        }
        largestDatagram = max(largestDatagram, output.datagrams.map(\.readableBytes).max() ?? 0)
        return output.datagrams
    }

    /// Ping-pong until neither side has anything to send.
    mutating func run(clientFlight: [ByteBuffer]) {
        var toServer = clientFlight
        for _ in 0..<20 where !toServer.isEmpty {
            var toClient: [ByteBuffer] = []
            for datagram in toServer { toClient += note(server.receive(datagram), fromServer: true) }
            toServer = []
            for datagram in toClient { toServer += note(client.receive(datagram), fromServer: false) }
        }
    }

    mutating func handshake() {
        let hello = note(client.start(), fromServer: false)
        run(clientFlight: hello)
    }
}

@Suite struct DTLSEndpointTests {
    @Test func certificateFingerprintIsSHA256InSDPForm() throws {
        let certificate = try DTLSCertificate.generate()
        let pairs = certificate.fingerprint.split(separator: ":")
        #expect(pairs.count == 32)
        #expect(pairs.allSatisfy { $0.count == 2 && $0.uppercased() == $0 })
        #expect(DTLSCertificate.parseFingerprint(certificate.fingerprint.lowercased()) != nil)
        #expect(DTLSCertificate.parseFingerprint("AB:CD") == nil)
        #expect(DTLSCertificate.parseFingerprint(certificate.fingerprint.replacingColons(with: "-")) == nil)
        #expect(throws: DTLSError.self) {
            try DTLSEndpoint(role: .server, certificate: certificate, remoteFingerprint: "+F" + certificate.fingerprint.dropFirst(2))
        }
    }

    @Test func handshakeConnectsWithMirroredKeys() throws {
        var pair = try Pair(serverExpects: nil, clientExpects: nil)
        // The lowercase form an SDP may carry is accepted too.
        #expect(pair.server.start().datagrams.isEmpty)
        pair.handshake()
        #expect(pair.server.isConnected && pair.client.isConnected)
        #expect(pair.serverClosed == nil && pair.clientClosed == nil)
        let server = try #require(pair.serverKeys)
        let client = try #require(pair.clientKeys)
        #expect(server.local.count == 30 && server.remote.count == 30)
        #expect(server.local == client.remote && server.remote == client.local)
        #expect(server.local != server.remote)
        #expect(pair.largestDatagram <= 1200)
        #expect(pair.server.retransmitIn == nil && pair.client.retransmitIn == nil)
    }

    @Test func smallMTUSplitsFlightsAtRecordBoundaries() throws {
        var pair = try Pair(serverExpects: nil, clientExpects: nil, mtu: 300)
        pair.handshake()
        #expect(pair.server.isConnected && pair.client.isConnected)
        #expect(pair.largestDatagram <= 300)
        #expect(pair.serverKeys?.local == pair.clientKeys?.remote)
    }

    @Test func keysDriveSRTPBothWays() throws {
        var pair = try Pair(serverExpects: nil, clientExpects: nil)
        pair.handshake()
        let server = try SRTPSession(keys: try #require(pair.serverKeys))
        let client = try SRTPSession(keys: try #require(pair.clientKeys))
        var packet = ByteBuffer(bytes: [0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7] + [UInt8](repeating: 9, count: 100))
        let plain = packet
        #expect(server.protectRTP(&packet))
        #expect(packet != plain)
        #expect(client.unprotectRTP(&packet))
        #expect(packet == plain)
    }

    @Test func wrongFingerprintCloses() throws {
        let stranger = try DTLSCertificate.generate().fingerprint
        var serverSide = try Pair(serverExpects: stranger, clientExpects: nil)
        serverSide.handshake()
        #expect(serverSide.serverClosed?.contains("fingerprint") == true)
        #expect(!serverSide.server.isConnected && serverSide.serverKeys == nil)
        // The server's bad_certificate alert ends the client's handshake too.
        #expect(!serverSide.client.isConnected && serverSide.clientClosed != nil)

        var clientSide = try Pair(serverExpects: nil, clientExpects: stranger.lowercased())
        clientSide.handshake()
        #expect(clientSide.clientClosed?.contains("fingerprint") == true)
        #expect(clientSide.clientKeys == nil)
        #expect(!clientSide.server.isConnected && clientSide.serverClosed != nil)
    }

    @Test func lostServerFlightIsSentAgainOnTimeout() async throws {
        var pair = try Pair(serverExpects: nil, clientExpects: nil)
        let hello = pair.note(pair.client.start(), fromServer: false)
        var lost: [ByteBuffer] = []
        for datagram in hello { lost += pair.note(pair.server.receive(datagram), fromServer: true) }
        #expect(!lost.isEmpty)
        let wait = try #require(pair.server.retransmitIn)
        #expect(wait <= .milliseconds(100))
        #expect(pair.server.handleTimeout().datagrams.isEmpty)
        try await Task.sleep(for: .milliseconds(wait.nanoseconds / 1_000_000 + 20))
        let again = pair.note(pair.server.handleTimeout(), fromServer: true)
        // The same records again (OpenSSL flushes each retransmitted message: one datagram each).
        #expect(again.map(\.readableBytes).reduce(0, +) == lost.map(\.readableBytes).reduce(0, +))
        var toServer: [ByteBuffer] = []
        for datagram in again { toServer += pair.note(pair.client.receive(datagram), fromServer: false) }
        pair.run(clientFlight: toServer)
        #expect(pair.serverClosed == nil && pair.clientClosed == nil)
        #expect(toServer.count > 0)
        #expect(pair.server.isConnected && pair.client.isConnected)
        #expect(pair.serverKeys == pair.clientKeys.map { SRTPKeys(profile: $0.profile, local: $0.remote, remote: $0.local) })
    }

    @Test func lostFinalServerFlightIsSentAgainWhenTheClientRetransmits() async throws {
        var pair = try Pair(serverExpects: nil, clientExpects: nil)
        let hello = pair.note(pair.client.start(), fromServer: false)
        var toClient: [ByteBuffer] = []
        for datagram in hello { toClient += pair.note(pair.server.receive(datagram), fromServer: true) }
        var toServer: [ByteBuffer] = []
        for datagram in toClient { toServer += pair.note(pair.client.receive(datagram), fromServer: false) }
        // The server completes on the client's Finished; its own ChangeCipherSpec + Finished are lost.
        for datagram in toServer { _ = pair.note(pair.server.receive(datagram), fromServer: true) }
        #expect(pair.server.isConnected && !pair.client.isConnected)
        let wait = try #require(pair.client.retransmitIn)
        try await Task.sleep(for: .milliseconds(wait.nanoseconds / 1_000_000 + 20))
        let again = pair.note(pair.client.handleTimeout(), fromServer: false)
        #expect(!again.isEmpty)
        // Connected, the server answers the retransmitted flight with its final flight again.
        pair.run(clientFlight: again)
        #expect(pair.client.isConnected && pair.server.isConnected)
        #expect(pair.serverClosed == nil && pair.clientClosed == nil)
        #expect(pair.clientKeys?.remote == pair.serverKeys?.local)
    }

    @Test func closeNotifyClosesThePeer() throws {
        var pair = try Pair(serverExpects: nil, clientExpects: nil)
        pair.handshake()
        let bye = pair.client.close()
        #expect(bye.closed == nil && !bye.datagrams.isEmpty)
        #expect(!pair.client.isConnected)
        #expect(pair.client.close().datagrams.isEmpty)
        var answer: [ByteBuffer] = []
        for datagram in bye.datagrams { answer += pair.note(pair.server.receive(datagram), fromServer: true) }
        #expect(pair.serverClosed?.contains("close_notify") == true)
        #expect(!pair.server.isConnected)
        #expect(pair.server.close().datagrams.isEmpty)
        #expect(pair.server.receive(bye.datagrams[0]).closed == nil)
    }

    @Test func garbageAndTruncatedRecordsNeverTrap() throws {
        var random = SystemRandomNumberGenerator()
        func garbage() -> ByteBuffer {
            let length = Int.random(in: 0...1500, using: &random)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            if !bytes.isEmpty {
                bytes[0] = UInt8.random(in: 20...63, using: &random)
                // Mostly plausible record headers: DTLS 1.2 version, a length within the datagram.
                if bytes.count >= 13, Bool.random(using: &random) {
                    bytes[0] = [20, 21, 22, 23].randomElement(using: &random) ?? 22
                    bytes[1] = 0xFE
                    bytes[2] = 0xFD
                    bytes[11] = UInt8((bytes.count - 13) >> 8)
                    bytes[12] = UInt8(truncatingIfNeeded: bytes.count - 13)
                }
            }
            return ByteBuffer(bytes: bytes)
        }

        // A fresh server: garbage never completes a handshake and ends it after the idle limit.
        let certificate = try DTLSCertificate.generate()
        let fresh = try DTLSEndpoint(role: .server, certificate: certificate, remoteFingerprint: nil)
        var closedAt: Int?
        for index in 0..<2000 {
            let output = fresh.receive(garbage())
            #expect(output.keys == nil)
            if output.closed != nil {
                #expect(closedAt == nil)
                closedAt = index
            }
        }
        #expect(closedAt != nil)
        #expect(fresh.receive(ByteBuffer(repeating: 22, count: 20_000)).closed == nil)

        // Every truncation of a real ClientHello, then the whole one: the server still answers.
        let client = try DTLSEndpoint(role: .client, certificate: certificate, remoteFingerprint: nil)
        let hello = try #require(client.start().datagrams.first)
        let server = try DTLSEndpoint(role: .server, certificate: certificate, remoteFingerprint: nil)
        for length in 1..<hello.readableBytes {
            let output = server.receive(hello.getSlice(at: hello.readerIndex, length: length) ?? hello)
            #expect(output.closed == nil && output.keys == nil)
        }
        #expect(!server.receive(hello).datagrams.isEmpty)

        // Connected: truncated records and garbage are dropped, the keys stay, the idle limit closes.
        var pair = try Pair(serverExpects: nil, clientExpects: nil)
        pair.handshake()
        let alert = try #require(pair.client.close().datagrams.first)
        for length in 1..<alert.readableBytes {
            #expect(pair.server.receive(alert.getSlice(at: alert.readerIndex, length: length) ?? alert).closed == nil)
        }
        #expect(pair.server.isConnected)
        var closed = false
        for _ in 0..<2000 where !closed {
            closed = pair.server.receive(garbage()).closed != nil
        }
        #expect(closed && !pair.server.isConnected)
    }
}

extension String {
    fileprivate func replacingColons(with separator: Character) -> String {
        String(map { $0 == ":" ? separator : $0 })
    }
}
