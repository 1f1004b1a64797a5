/* The server's TLS context; see tls.h. */
#include <stdio.h>

#include <h2o.h>
#include <openssl/err.h>

#include "http/tls.h"

/* Prints "pushbind: WHAT FILE: REASON" with OpenSSL's first queued reason. */
static void print_tls_error(const char *what, const char *file)
{
    unsigned long err = ERR_get_error();
    char reason[256] = "unknown error";
    if (err != 0)
        ERR_error_string_n(err, reason, sizeof(reason));
    ERR_clear_error();
    fprintf(stderr, "pushbind: %s %s: %s\n", what, file, reason);
}

SSL_CTX *pb_tls_context_new(const char *cert_file, const char *key_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        print_tls_error("cannot create a TLS context for", cert_file);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        print_tls_error("cannot use the certificate", cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        print_tls_error("cannot use the private key", key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        print_tls_error("the private key does not match the certificate in", cert_file);
        goto fail;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;

fail:
    SSL_CTX_free(ctx);
    return NULL;
}
