#ifndef CASSETTO_COPENSSL_SHIM_H
#define CASSETTO_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/crypto.h>

// Macros Swift cannot import, as functions.
static inline long cassetto_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int v) {
  return SSL_CTX_set_min_proto_version(ctx, v);
}
static inline long cassetto_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
  return SSL_set_tlsext_host_name(ssl, name);
}
static inline long cassetto_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
  return SSL_CTX_set_mode(ctx, mode);
}
#endif
