import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import RelayWebRTC

/// A DTLS server endpoint behind a UDP channel: answers whoever sends; reports the keys, then why it closed.
private final class DTLSServerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let endpoint: DTLSEndpoint
    private let keys: EventLoopPromise<SRTPKeys?>
    private let closed: EventLoopPromise<String>
    private var keysReported = false

    init(endpoint: DTLSEndpoint, keys: EventLoopPromise<SRTPKeys?>, closed: EventLoopPromise<String>) {
        self.endpoint = endpoint
        self.keys = keys
        self.closed = closed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let output = endpoint.receive(envelope.data)
        for datagram in output.datagrams {
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: datagram)), promise: nil)
        }
        context.flush()
        if output.keys != nil || output.closed != nil, !keysReported {
            keysReported = true
            keys.succeed(output.keys)
        }
        if let reason = output.closed { closed.succeed(reason) }
    }
}

/// Third-party check: OpenSSL's own DTLS client (`openssl s_client`) against a DTLSEndpoint server.
@Suite struct DTLSOpenSSLInteropTests {
    /// `openssl ARGS` with `input` on stdin; its stdout once it exits (bounded to 20 s).
    private static func openssl(_ arguments: [String], input: String = "") throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = stdin
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    private static func fingerprint(ofPEM pem: String) throws -> String {
        let line = try openssl(["x509", "-noout", "-fingerprint", "-sha256"], input: pem)
        return String(try #require(line.split(separator: "=", maxSplits: 1).last)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func opensslClientNegotiatesSRTPAndExportsTheSameKeys() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dtls-interop-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("key.pem").path
        let certificateFile = directory.appendingPathComponent("cert.pem").path
        _ = try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                              "-keyout", keyFile, "-out", certificateFile, "-subj", "/CN=s_client", "-days", "1", "-sha256"])
        // The client's fingerprint as OpenSSL writes it: what its SDP would carry.
        let clientFingerprint = try Self.fingerprint(ofPEM: try String(contentsOfFile: certificateFile, encoding: .utf8))

        let certificate = try DTLSCertificate.generate()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let keys = group.next().makePromise(of: SRTPKeys?.self)
        let closed = group.next().makePromise(of: String.self)
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let endpoint = try DTLSEndpoint(role: .server, certificate: certificate, remoteFingerprint: clientFingerprint)
                    try channel.pipeline.syncOperations.addHandler(DTLSServerHandler(endpoint: endpoint, keys: keys, closed: closed))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)

        // stdin at its end: s_client completes the handshake, prints the session and exits with close_notify.
        let text = try Self.openssl(["s_client", "-dtls1_2", "-use_srtp", "SRTP_AES128_CM_SHA1_80",
                                     "-connect", "127.0.0.1:\(port)", "-cert", certificateFile, "-key", keyFile,
                                     "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60"])
        // Whatever did not arrive by now is not coming (a promise completes once; later calls are ignored).
        group.next().scheduleTask(in: .seconds(5)) {
            keys.succeed(nil)
            closed.succeed("no close_notify within 5 s of s_client's exit")
        }
        let serverKeys = try await keys.futureResult.get()
        let closeReason = try await closed.futureResult.get()
        try? await channel.close().get()
        try? await group.shutdownGracefully()

        let server = try #require(serverKeys)
        #expect(text.contains("SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80"))
        let materialLine = try #require(text.split(separator: "\n").first { $0.contains("Keying material: ") })
        let hex = try #require(materialLine.split(separator: " ").last)
        // RFC 5764 4.2 layout: client key, server key, client salt, server salt.
        let expected = (server.remote.prefix(16) + server.local.prefix(16) + server.remote.suffix(14) + server.local.suffix(14))
            .map { String(format: "%02X", $0) }.joined()
        #expect(hex.uppercased() == expected)
        #expect(closeReason.contains("close_notify"))

        // The certificate it received is the one whose fingerprint our SDP would carry.
        let pemStart = try #require(text.range(of: "-----BEGIN CERTIFICATE-----"))
        let pemEnd = try #require(text.range(of: "-----END CERTIFICATE-----"))
        #expect(try Self.fingerprint(ofPEM: String(text[pemStart.lowerBound..<pemEnd.upperBound]) + "\n") == certificate.fingerprint)
    }
}
