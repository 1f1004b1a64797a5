/*
 * tls.h — HTTPS for the server: one OpenSSL context shared by every thread.
 *
 * The context offers HTTP/2 and HTTP/1.1 by ALPN (h2o picks the protocol per
 * connection) and refuses protocol versions older than TLS 1.2.
 */
#ifndef PB_TLS_H
#define PB_TLS_H

#include <openssl/ssl.h>

/*
 * Loads a PEM certificate chain and its private key. Returns the context, or
 * NULL after printing on stderr which file could not be used and why (the
 * message names files, never key material). Free with SSL_CTX_free().
 */
SSL_CTX *pb_tls_context_new(const char *cert_file, const char *key_file);

#endif
