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
static inline long cassetto_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int v) {
  return SSL_CTX_set_max_proto_version(ctx, v);
}
static inline long cassetto_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
  return SSL_CTX_set_session_cache_mode(ctx, mode);
}
// An empty memory BIO reports "retry" by default; 0 makes it report end of file instead.
static inline long cassetto_BIO_set_mem_eof_return(BIO *b, int v) {
  return BIO_set_mem_eof_return(b, v);
}
static inline void cassetto_OPENSSL_free(void *p) {
  OPENSSL_free(p);
}
// XN_FLAG_RFC2253 is a composite of casts and shifts that Swift does not import.
static inline unsigned long cassetto_XN_FLAG_RFC2253(void) {
  return XN_FLAG_RFC2253;
}
// SSL_OP_* are built with SSL_OP_BIT(n), a cast Swift does not import.
static inline uint64_t cassetto_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t cassetto_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t cassetto_SSL_OP_CIPHER_SERVER_PREFERENCE(void) {
  return SSL_OP_CIPHER_SERVER_PREFERENCE;
}
// ERR_raise is a macro over a variadic function. Records why a ClientHello callback refused.
static inline void cassetto_ERR_raise_no_application_protocol(void) {
  ERR_raise(ERR_LIB_SSL, SSL_R_NO_APPLICATION_PROTOCOL);
}
#endif
