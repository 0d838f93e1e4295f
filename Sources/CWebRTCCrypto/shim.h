// Debian's OpenSSL 3 (libssl-dev) for DTLS and libsrtp2 (libsrtp2-dev) for SRTP, as one C module
// for RelayWebRTC. Static inline wrappers stand in for OpenSSL's macros and variadic functions,
// which Swift cannot call.
#ifndef CWEBRTC_CRYPTO_SHIM_H
#define CWEBRTC_CRYPTO_SHIM_H

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <srtp2/srtp.h>
#include <sys/time.h>

/// A fresh ECDSA P-256 key (EVP_EC_gen is a macro over the variadic EVP_PKEY_Q_keygen).
static inline EVP_PKEY *cwc_ec_p256_keygen(void) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/// DTLS 1.2 at least, ECDHE groups, no session cache or tickets (every association is new).
static inline int cwc_ssl_ctx_configure_dtls(SSL_CTX *ctx) {
    if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1) return 0;
    if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) return 0;
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_QUERY_MTU);
    return 1;
}

/// Records no larger than `mtu` (memory BIOs cannot report one); 1 when set.
static inline int cwc_ssl_set_mtu(SSL *ssl, long mtu) {
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    return SSL_set_mtu(ssl, mtu) == mtu ? 1 : 0;
}

/// 1 and the time left in `left` while a retransmission timer runs; 0 when none does.
static inline int cwc_dtls_get_timeout(SSL *ssl, struct timeval *left) {
    return (int)DTLSv1_get_timeout(ssl, left);
}

/// 1: the flight was sent again; 0: the timer has not expired; -1: too many timeouts.
static inline int cwc_dtls_handle_timeout(SSL *ssl) {
    return (int)DTLSv1_handle_timeout(ssl);
}

/// An empty memory BIO then reads as "retry", not end of file.
static inline void cwc_bio_set_mem_eof_return(BIO *bio, int value) {
    BIO_set_mem_eof_return(bio, value);
}

static inline int cwc_bio_reset(BIO *bio) {
    return BIO_reset(bio);
}

#endif
