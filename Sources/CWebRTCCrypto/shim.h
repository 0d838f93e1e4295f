// Debian's OpenSSL 3 (libssl-dev) for DTLS and libsrtp2 (libsrtp2-dev) for SRTP, as one C module
// for RelayWebRTC. Static inline wrappers stand in for OpenSSL's macros and variadic functions,
// which Swift cannot call.
#ifndef CWEBRTC_CRYPTO_SHIM_H
#define CWEBRTC_CRYPTO_SHIM_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <srtp2/srtp.h>

#endif
