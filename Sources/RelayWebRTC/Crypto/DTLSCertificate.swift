import CWebRTCCrypto

public struct DTLSError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ what: String) {
        description = what + openSSLErrors()
    }
}

/// The server's DTLS identity: a self-signed ECDSA P-256 certificate (SHA-256 signature, ~30 days
/// validity) made once at startup.
public final class DTLSCertificate: @unchecked Sendable {
    /// SHA-256 fingerprint as SDP's a=fingerprint writes it: uppercase hex pairs joined by ":".
    public let fingerprint: String
    /// Shared by every association of this certificate; OpenSSL makes SSL objects from it on
    /// any thread, and nothing changes it after `generate`.
    let context: OpaquePointer
    private let key: OpaquePointer
    private let certificate: OpaquePointer

    private init(key: OpaquePointer, certificate: OpaquePointer, context: OpaquePointer, fingerprint: String) {
        self.key = key
        self.certificate = certificate
        self.context = context
        self.fingerprint = fingerprint
    }

    deinit {
        SSL_CTX_free(context)
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    public static func generate(commonName: String = "LiveRelay") throws(DTLSError) -> DTLSCertificate {
        ERR_clear_error()
        guard let key = cwc_ec_p256_keygen() else { throw DTLSError("EC P-256 key generation failed") }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw DTLSError("X509_new failed")
        }
        do throws(DTLSError) {
            try fill(x509, key: key, commonName: commonName)
            let fingerprint = try sha256Fingerprint(of: x509)
            let context = try makeContext(certificate: x509, key: key)
            return DTLSCertificate(key: key, certificate: x509, context: context, fingerprint: fingerprint)
        } catch {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw error
        }
    }

    /// Version 3, random serial, valid from a day ago (clock skew) for 30 days, signed with SHA-256.
    private static func fill(_ x509: OpaquePointer, key: OpaquePointer, commonName: String) throws(DTLSError) {
        let serialNumber = UInt64.random(in: 1...UInt64(Int64.max))
        guard let name = X509_get_subject_name(x509),
              X509_set_version(x509, 2) == 1,
              ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serialNumber) == 1,
              X509_gmtime_adj(X509_getm_notBefore(x509), -86_400) != nil,
              X509_gmtime_adj(X509_getm_notAfter(x509), 30 * 86_400) != nil,
              X509_set_pubkey(x509, key) == 1,
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1,
              X509_set_issuer_name(x509, name) == 1,
              X509_sign(x509, key, EVP_sha256()) > 0
        else { throw DTLSError("building the self-signed certificate failed") }
    }

    private static func makeContext(certificate: OpaquePointer, key: OpaquePointer) throws(DTLSError) -> OpaquePointer {
        guard let context = SSL_CTX_new(DTLS_method()) else { throw DTLSError("SSL_CTX_new failed") }
        guard cwc_ssl_ctx_configure_dtls(context) == 1,
              SSL_CTX_use_certificate(context, certificate) == 1,
              SSL_CTX_use_PrivateKey(context, key) == 1,
              SSL_CTX_check_private_key(context) == 1,
              SSL_CTX_set_cipher_list(context, cipherList) == 1,
              // Returns 0 on success, unlike the rest of OpenSSL.
              SSL_CTX_set_tlsext_use_srtp(context, "SRTP_AES128_CM_SHA1_80") == 0
        else {
            SSL_CTX_free(context)
            throw DTLSError("configuring the DTLS context failed")
        }
        // The peer's certificate is self-signed: accept it here, its fingerprint is checked
        // against the SDP's when the handshake completes.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) { _, _ in 1 }
        return context
    }

    /// ECDHE only (forward secrecy); ECDSA for our certificate, RSA too for a peer's (client role).
    private static let cipherList = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"

    static func sha256Digest(of x509: OpaquePointer) throws(DTLSError) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(x509, EVP_sha256(), &digest, &length) == 1, length == 32 else {
            throw DTLSError("X509_digest failed")
        }
        return Array(digest.prefix(32))
    }

    private static func sha256Fingerprint(of x509: OpaquePointer) throws(DTLSError) -> String {
        formatFingerprint(try sha256Digest(of: x509))
    }

    /// The 32 bytes of an SDP sha-256 fingerprint ("AB:CD:…", either case); nil when malformed.
    static func parseFingerprint(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for pair in text.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false) {
            guard pair.count == 2, let high = pair.first.flatMap(hexValue), let low = pair.last.flatMap(hexValue)
            else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes.count == 32 ? bytes : nil
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func formatFingerprint(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            if !text.isEmpty { text.append(UInt8(ascii: ":")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// OpenSSL's queued errors as one suffix (" (…; …)"), and the queue emptied: it is per thread,
/// so what one session leaves must not show up in another's.
func openSSLErrors() -> String {
    var messages: [String] = []
    while messages.count < 4 {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    ERR_clear_error()
    return messages.isEmpty ? "" : " (" + messages.joined(separator: "; ") + ")"
}
