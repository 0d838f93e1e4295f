import CWebRTCCrypto
import NIOCore

public enum DTLSRole: Sendable { case server, client }

public enum SRTPProfile: Sendable, Equatable { case aes128CmSha1_80 }

/// Keying material of one DTLS-SRTP association (RFC 5764 4.2), oriented for this side.
public struct SRTPKeys: Sendable, Equatable {
    public var profile: SRTPProfile
    /// Master key followed by master salt (16 + 14 bytes) that this side protects with.
    public var local: [UInt8]
    /// The peer's master key + salt (what this side unprotects with).
    public var remote: [UInt8]

    public init(profile: SRTPProfile, local: [UInt8], remote: [UInt8]) {
        self.profile = profile
        self.local = local
        self.remote = remote
    }
}

public struct DTLSOutput {
    /// Datagrams to send to the peer, in order (handshake flights, alerts); each <= mtu where OpenSSL allows.
    public var datagrams: [ByteBuffer] = []
    /// Set once, by the call that completed the handshake (after the peer certificate's fingerprint matched).
    public var keys: SRTPKeys?
    /// Non-nil: the association failed (handshake error, fingerprint mismatch, too many bad records) or the
    /// peer closed it; the session ends. Why, for one log line.
    public var closed: String?

    public init(datagrams: [ByteBuffer] = [], keys: SRTPKeys? = nil, closed: String? = nil) {
        self.datagrams = datagrams
        self.keys = keys
        self.closed = closed
    }
}

/// One DTLS 1.2 association over datagrams the caller carries (OpenSSL with a memory BIO to read
/// from and a `DTLSDatagramSink` to write to). Confined to one event loop (not Sendable).
public final class DTLSEndpoint {
    /// Larger datagrams are no DTLS we take part in (records are at most 16 KiB + header).
    static let maxDatagram = 16_384
    /// Datagrams in a row that neither move the handshake on nor get an answer (garbage, records
    /// that fail their MAC, stray retransmissions) before the association is given up.
    static let maxIdleDatagrams = 256
    /// SSL_read calls per datagram once connected: bounds the work one datagram can cause.
    static let maxReadsPerDatagram = 16

    private enum State { case handshaking, connected, closed }

    private let role: DTLSRole
    /// Holds a reference on the certificate's SSL_CTX.
    private let ssl: OpaquePointer
    /// Owned by `ssl` (SSL_set_bio).
    private let readBIO: OpaquePointer
    /// Outlives `ssl`, whose write BIO points at it.
    private let sink: DTLSDatagramSink
    private let remoteFingerprint: [UInt8]?
    /// The same 32 bytes for the verify callback (the SSL's app data); nil: any certificate.
    private let expectedDigest: UnsafeMutableRawBufferPointer?
    private var state = State.handshaking
    private var closeNotifySent = false
    private var idleDatagrams = 0

    /// remoteFingerprint: the peer's a=fingerprint sha-256 value (hex pairs, any case); nil accepts any
    /// certificate (tests).
    public init(role: DTLSRole, certificate: DTLSCertificate, remoteFingerprint: String?, mtu: Int = 1200) throws(DTLSError) {
        ERR_clear_error()
        var expected: [UInt8]?
        if let remoteFingerprint {
            guard let digest = DTLSCertificate.parseFingerprint(remoteFingerprint) else {
                throw DTLSError("malformed sha-256 fingerprint \"\(remoteFingerprint.prefix(120))\"")
            }
            expected = digest
        }
        guard (256...Self.maxDatagram).contains(mtu) else { throw DTLSError("DTLS mtu \(mtu) out of 256...16384") }
        guard let ssl = SSL_new(certificate.context) else { throw DTLSError("SSL_new failed") }
        // Checked during the handshake, so a wrong certificate ends it with a bad_certificate alert
        // the peer sees, and again when it completes.
        let expectedDigest = expected.map { digest in
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: digest.count, alignment: 1)
            copy.copyBytes(from: digest)
            return copy
        }
        _ = SSL_set_ex_data(ssl, 0, expectedDigest?.baseAddress)
        SSL_set_verify(ssl, role == .server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                       verifyPeerFingerprint)
        guard let readBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            expectedDigest?.deallocate()
            throw DTLSError("BIO_new failed")
        }
        let sink = DTLSDatagramSink(mtu: mtu, allocator: ByteBufferAllocator())
        guard let writeBIO = DTLSDatagramSink.makeBIO(for: sink) else {
            BIO_free(readBIO)
            SSL_free(ssl)
            expectedDigest?.deallocate()
            throw DTLSError("making the datagram BIO failed")
        }
        cwc_bio_set_mem_eof_return(readBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)
        guard cwc_ssl_set_mtu(ssl, mtu) == 1 else {
            SSL_free(ssl)
            expectedDigest?.deallocate()
            throw DTLSError("SSL_set_mtu(\(mtu)) failed")
        }
        // OpenSSL waits a whole second before the first retransmission; a lost flight on a LAN
        // or to a browser is resent after 100 ms, doubling up to 3 s.
        DTLS_set_timer_cb(ssl) { _, previous in previous == 0 ? 100_000 : (previous >= 1_500_000 ? 3_000_000 : previous &* 2) }
        switch role {
        case .server: SSL_set_accept_state(ssl)
        case .client: SSL_set_connect_state(ssl)
        }
        self.role = role
        self.ssl = ssl
        self.readBIO = readBIO
        self.sink = sink
        self.remoteFingerprint = expected
        self.expectedDigest = expectedDigest
    }

    deinit {
        SSL_free(ssl)
        expectedDigest?.deallocate()
    }

    public var isConnected: Bool { state == .connected }

    /// Client: the first flight (ClientHello). Server: empty output.
    public func start() -> DTLSOutput {
        // OpenSSL's error queue is per thread: nothing this call leaves may show up in another session.
        defer { ERR_clear_error() }
        guard role == .client, state == .handshaking else { return DTLSOutput() }
        ERR_clear_error()
        return advanceHandshake()
    }

    /// One datagram from the peer (first byte 20...63, RFC 7983).
    public func receive(_ datagram: ByteBuffer) -> DTLSOutput {
        defer { ERR_clear_error() }
        guard state != .closed, datagram.readableBytes <= Self.maxDatagram,
              let first = datagram.readableBytesView.first, (20...63).contains(first)
        else { return DTLSOutput() }
        ERR_clear_error()
        let written = datagram.withUnsafeReadableBytes { bytes in
            BIO_write(readBIO, bytes.baseAddress, Int32(truncatingIfNeeded: bytes.count))
        }
        guard written == datagram.readableBytes else {
            _ = cwc_bio_reset(readBIO)
            return fail(DTLSOutput(), "DTLS: buffering a datagram failed" + openSSLErrors())
        }
        var output = state == .handshaking ? advanceHandshake() : readRecords()
        // What OpenSSL did not read of this datagram must not prefix the next one.
        if BIO_ctrl_pending(readBIO) > 0 { _ = cwc_bio_reset(readBIO) }
        if output.datagrams.isEmpty, output.keys == nil, output.closed == nil {
            idleDatagrams += 1
            if idleDatagrams > Self.maxIdleDatagrams {
                output = fail(output, "DTLS: \(Self.maxIdleDatagrams) datagrams in a row that were no use")
            }
        } else {
            idleDatagrams = 0
        }
        return output
    }

    /// When `handleTimeout` must be called next for a retransmission (DTLSv1_get_timeout); nil: none pending.
    public var retransmitIn: TimeAmount? {
        guard state != .closed else { return nil }
        var left = timeval()
        guard cwc_dtls_get_timeout(ssl, &left) == 1 else { return nil }
        return .microseconds(Int64(left.tv_sec) &* 1_000_000 &+ Int64(left.tv_usec))
    }

    public func handleTimeout() -> DTLSOutput {
        defer { ERR_clear_error() }
        guard state != .closed else { return DTLSOutput() }
        ERR_clear_error()
        let result = cwc_dtls_handle_timeout(ssl)
        let output = DTLSOutput(datagrams: drainWrites())
        return result < 0 ? fail(output, "DTLS handshake timed out (the peer stopped answering)" + openSSLErrors()) : output
    }

    /// Sends close_notify (idempotent).
    public func close() -> DTLSOutput {
        defer { ERR_clear_error() }
        guard !closeNotifySent else { return DTLSOutput() }
        closeNotifySent = true
        let wasOpen = state != .closed
        state = .closed
        guard wasOpen else { return DTLSOutput() }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
        return DTLSOutput(datagrams: drainWrites())
    }

    // MARK: Handshake and records

    private func advanceHandshake() -> DTLSOutput {
        let result = SSL_do_handshake(ssl)
        // Drained first in every case: a failing handshake leaves its fatal alert here.
        var output = DTLSOutput(datagrams: drainWrites())
        guard result == 1 else {
            let error = SSL_get_error(ssl, result)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
                ERR_clear_error()
                return output
            }
            if error == SSL_ERROR_ZERO_RETURN { return fail(output, "DTLS: the peer closed during the handshake") }
            if SSL_get_verify_result(ssl) == Int(X509_V_ERR_CERT_REJECTED) {
                ERR_clear_error()
                return fail(output, "DTLS: the peer's certificate does not match its SDP fingerprint")
            }
            return fail(output, "DTLS handshake failed" + openSSLErrors())
        }
        if let failure = checkPeerCertificate() { return fail(DTLSOutput(), failure) }
        guard let keys = exportKeys() else {
            return fail(output, "DTLS: no SRTP profile negotiated (use_srtp SRTP_AES128_CM_SHA1_80)" + openSSLErrors())
        }
        state = .connected
        output.keys = keys
        return output
    }

    /// Connected: alerts (close_notify) and retransmitted final flights. WebRTC without data
    /// channels carries no application data over DTLS; any is read and dropped.
    private func readRecords() -> DTLSOutput {
        var closed: String?
        withUnsafeTemporaryAllocation(byteCount: Self.maxDatagram, alignment: 1) { scratch in
            for _ in 0..<Self.maxReadsPerDatagram {
                let count = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
                if count > 0 { continue }
                switch SSL_get_error(ssl, count) {
                case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: ERR_clear_error()
                case SSL_ERROR_ZERO_RETURN: closed = "DTLS: the peer sent close_notify"
                default: closed = "DTLS record read failed" + openSSLErrors()
                }
                return
            }
        }
        if closed != nil, !closeNotifySent {
            // Answer the peer's close_notify with ours.
            closeNotifySent = true
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
        let output = DTLSOutput(datagrams: drainWrites())
        return closed.map { fail(output, $0) } ?? output
    }

    private func fail(_ output: DTLSOutput, _ reason: String) -> DTLSOutput {
        state = .closed
        var output = output
        output.closed = reason
        return output
    }

    /// nil when the peer's certificate is the one its SDP announced (or any is accepted).
    private func checkPeerCertificate() -> String? {
        guard let peer = SSL_get1_peer_certificate(ssl) else { return "DTLS: the peer sent no certificate" }
        defer { X509_free(peer) }
        guard let expected = remoteFingerprint else { return nil }
        do {
            let digest = try DTLSCertificate.sha256Digest(of: peer)
            guard digest == expected else {
                return "DTLS: the peer's certificate fingerprint \(DTLSCertificate.formatFingerprint(digest)) "
                    + "is not the SDP's \(DTLSCertificate.formatFingerprint(expected))"
            }
            return nil
        } catch {
            return error.description
        }
    }

    /// RFC 5764 4.2: client key, server key, client salt, server salt, from the TLS exporter.
    private func exportKeys() -> SRTPKeys? {
        guard let profile = SSL_get_selected_srtp_profile(ssl), profile.pointee.id == SRTP_AES128_CM_SHA1_80
        else { return nil }
        let label = "EXTRACTOR-dtls_srtp"
        var material = [UInt8](repeating: 0, count: 60)
        guard SSL_export_keying_material(ssl, &material, material.count, label, label.utf8.count, nil, 0, 0) == 1
        else { return nil }
        let client = Array(material[0..<16] + material[32..<46])
        let server = Array(material[16..<32] + material[46..<60])
        return role == .client
            ? SRTPKeys(profile: .aes128CmSha1_80, local: client, remote: server)
            : SRTPKeys(profile: .aes128CmSha1_80, local: server, remote: client)
    }

    private func drainWrites() -> [ByteBuffer] {
        sink.takeDatagrams()
    }
}

/// OpenSSL's verify callback: the leaf certificate must hash to the SDP's fingerprint (the SSL's
/// app data); the chain is not checked (WebRTC certificates are self-signed).
private func verifyPeerFingerprint(_ preverified: Int32, _ store: OpaquePointer?) -> Int32 {
    guard let store, X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
    guard let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
          let expected = SSL_get_ex_data(OpaquePointer(ssl), 0)
    else { return 1 }
    var matches = false
    if let certificate = X509_STORE_CTX_get_current_cert(store) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(EVP_MAX_MD_SIZE)) { digest in
            guard let base = digest.baseAddress else { return }
            var length: UInt32 = 0
            matches = X509_digest(certificate, EVP_sha256(), base, &length) == 1 && length == 32
                && memcmp(base, expected, 32) == 0
        }
    }
    if matches {
        X509_STORE_CTX_set_error(store, X509_V_OK)
        return 1
    }
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED)
    return 0
}
